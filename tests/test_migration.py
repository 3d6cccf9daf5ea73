"""Commands of mmseg and the DAFormer family that run unchanged: run_experiments.py CONFIG, a bare --amp.
(Model-Merging-MTDA's merge.py flags: tests/test_merge_cli.py.)"""
import pytest

from entry_points import ROOT, run_experiments

CONFIG = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')


def test_config_is_positional_as_in_mmseg_train_py_or_an_option():
    assert run_experiments.parse_args([CONFIG, '--seed', '1']).config == CONFIG
    assert run_experiments.parse_args(['--seed', '1', '--config', CONFIG]).config == CONFIG
    assert run_experiments.parse_args([CONFIG, '--config', CONFIG]).config == CONFIG


@pytest.mark.parametrize('argv, message', [([], 'a config is required: run_experiments.py CONFIG'),
                                           ([CONFIG, '--config', 'other.py'], 'two configs given')])
def test_no_config_or_two_configs_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        run_experiments.parse_args(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_bare_amp_means_bf16():
    assert run_experiments.parse_args([CONFIG]).amp == 'none'
    assert run_experiments.parse_args([CONFIG, '--amp']).amp == 'bf16'
    assert run_experiments.parse_args([CONFIG, '--amp', '--seed', '1']).amp == 'bf16'
    assert run_experiments.parse_args([CONFIG, '--amp', 'fp16']).amp == 'fp16'
    cfg = run_experiments.prepare_config(run_experiments.parse_args([CONFIG, '--amp', '--work-dir', '/nonexistent/x']))
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
