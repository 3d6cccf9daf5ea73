"""The repository's top-level scripts as importable modules, for tests that call their ``main``."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(name):
    """Import ``<repo>/<name>.py`` (a script, not part of the package) as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_experiments = load_script('run_experiments')
