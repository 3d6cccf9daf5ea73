"""Config loading from files and work dirs, --cfg-options checks, one-line errors, test.sh's exit code."""
import os.path as osp
import subprocess

import pytest

from daseg.cli import find_config, load_config, run_main
from daseg.errors import UserError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = """\
model = dict(type='EncoderDecoder', decode_head=dict(num_classes=19, channels=16))
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 32))]
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG)
    return str(path)


def test_work_dir_must_hold_exactly_one_config(tmp_path):
    with pytest.raises(UserError, match=r'exactly one config .* found 0: none'):
        find_config(str(tmp_path))
    (tmp_path / 'a.py').write_text(CONFIG)
    assert find_config(str(tmp_path)) == (str(tmp_path / 'a.py'), str(tmp_path))
    (tmp_path / 'b.py').write_text(CONFIG)
    with pytest.raises(UserError, match='found 2: a.py, b.py'):
        load_config(str(tmp_path))


def test_cfg_options_are_parsed_and_checked(config):
    cfg = load_config(config, ['model.decode_head.channels=32', 'pipeline.1.scale=(128,64)'])
    assert cfg.model.decode_head.channels == 32
    assert tuple(cfg.pipeline[1].scale) == (128, 64)
    with pytest.raises(UserError, match='^unknown config key: model.decode_head.chanels$'):
        load_config(config, ['model.decode_head.chanels=32'])
    with pytest.raises(UserError, match='unknown config key: pipeline.2.scale'):
        load_config(config, ['pipeline.2.scale=1'])
    with pytest.raises(UserError, match='expected KEY=VALUE'):
        load_config(config, ['model.decode_head.channels'])


def test_config_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match='config not found: .*missing.py'):
        load_config(str(tmp_path / 'missing.py'))
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(UserError, match='cannot load config .*broken.py: SyntaxError'):
        load_config(str(broken))


def test_run_main_prints_one_line_and_exits_2(capsys):
    def fails():
        raise UserError('bad input:\nsecond line')

    with pytest.raises(SystemExit) as exit_info:
        run_main(fails)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == 'error: bad input: second line\n'
    assert run_main(lambda: 5) == 5


def test_test_sh_missing_checkpoint(config, tmp_path):
    result = subprocess.run([osp.join(ROOT, 'test.sh'), config, str(tmp_path / 'missing.pth')],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f'error: checkpoint not found: {tmp_path / "missing.pth"}']
