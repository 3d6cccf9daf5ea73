"""Every entry point answers --help without importing torch, mmseg or the package (which takes seconds).

Python's own import log (PYTHONPROFILEIMPORTTIME, as ``python -X importtime``) lists every module a run imports;
it also covers test.sh, which runs tools/test.py, and the dataset converters (tools/convert_datasets/).
"""
import os
import subprocess
import sys

import pytest

from entry_points import ROOT, load_script

HEAVY = {'torch', 'mmseg', 'mmcv', 'daseg'}
# Scripts only: tools/segmentor_arguments.py and tools/convert_datasets/options.py are modules they share.
SCRIPTS = sorted(path for path in [ROOT / 'run_experiments.py', ROOT / 'merge.py', *ROOT.glob('tools/*.py'),
                                   *ROOT.glob('tools/convert_datasets/*.py')]
                 if "if __name__ == '__main__':" in path.read_text())


def imported_modules(command):
    """The modules a command imports (from Python's import log on stderr), and its stdout."""
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME='1')
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.rsplit('|', 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith('import time:') and '|' in line}
    return modules, proc.stdout


@pytest.mark.parametrize('command', [[sys.executable, str(path), '--help'] for path in SCRIPTS]
                         + [[str(ROOT / 'test.sh'), '--help']], ids=lambda c: os.path.basename(c[-2]))
def test_help_imports_nothing_heavy(command):
    modules, out = imported_modules(command)
    assert modules, 'no import log: PYTHONPROFILEIMPORTTIME was not honoured'
    heavy = sorted(m for m in modules if m.split('.')[0] in HEAVY)
    assert not heavy, f'--help imports {heavy[:5]}'
    assert out.startswith('usage:')


def test_names_the_parsers_spell_out_are_the_package_s():
    """merge.py and convert_mit_weights.py list their choices without importing the package; they must agree."""
    from daseg.merging.buffers import BUFFER_MODES
    from daseg.merging.merger import MERGED_SUB_MODELS
    from daseg.merging.rules import DEFAULTS, IMAGENET_BASE, PARAM_MODES
    from daseg.models.backbones.mit import ARCH_SETTINGS
    merge = load_script('merge')
    assert merge.PARAM_MODES == PARAM_MODES and merge.BUFFER_MODES == BUFFER_MODES
    assert merge.MERGED_SUB_MODELS == tuple(MERGED_SUB_MODELS) and merge.IMAGENET_BASE == IMAGENET_BASE
    assert merge.DEFAULTS == DEFAULTS
    assert load_script('tools/convert_mit_weights').ARCHS == tuple(sorted(ARCH_SETTINGS))
