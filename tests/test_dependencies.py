"""One OpenCV (the one mmcv and mmseg require) and one torch range in every install path."""
import re
from importlib import metadata

from entry_points import ROOT


def pyproject_dependencies():
    block = re.search(r'^dependencies = \[(.*?)^\]', (ROOT / 'pyproject.toml').read_text(), re.M | re.S)[1]
    return re.findall(r'"([^"]+)"', block)


def name_of(requirement):
    return re.match(r'[A-Za-z0-9_.-]+', requirement)[0].lower()


def test_opencv_is_the_distribution_mmcv_and_mmseg_require():
    ours = {name_of(r) for r in pyproject_dependencies() if name_of(r).startswith('opencv')}
    for dist in ('onedl-mmcv', 'onedl-mmsegmentation'):
        required = {name_of(r) for r in metadata.requires(dist) or [] if 'extra ==' not in r}
        assert ours <= required, f'{dist} requires {sorted(n for n in required if n.startswith("opencv"))}'
    assert len(ours) == 1


def test_environment_yml_lists_the_pyproject_dependencies():
    listed = re.findall(r'^ {6}- "?([^"\n]+)"?$', (ROOT / 'environment.yml').read_text(), re.M)
    assert [r for r in listed if r not in ('pytest', '-e .')] == pyproject_dependencies()


def test_one_torch_range_everywhere():
    torch, = [r for r in pyproject_dependencies() if name_of(r) == 'torch']
    assert f'TORCH_SPEC ?= {torch}\n' in (ROOT / 'Makefile').read_text()
    assert re.findall(r'pip install "(torch[^"]*)"', (ROOT / 'README.md').read_text()) == [torch]
