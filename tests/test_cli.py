"""Config loading from files and work dirs, --cfg-options checks and values, --cfg-add, --max-iters, one-line
errors, test.sh's exit code."""
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.registry import PARAM_SCHEDULERS

from daseg.cli import find_config, load_config, parse_value, run_main
from daseg.errors import UserError
from entry_points import run_experiments

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = """\
model = dict(type='EncoderDecoder', decode_head=dict(num_classes=19, channels=16))
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 32))]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10))
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
"""
DAFORMER = osp.join(ROOT, 'configs/daformer/gta2cs_source_only_daformer_mitb5.py')  # 40k, warm-up 1500


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


def test_values_parse_lists_tuples_and_dicts():
    assert parse_value('[a,b]') == ['a', 'b'] and parse_value('a,b') == ['a', 'b']
    assert parse_value('(1, 2.5)') == (1, 2.5) and parse_value('(3,)') == (3,) and parse_value('[]') == []
    assert [parse_value(v) for v in ('True', 'None', "'mIoU'", '1e-4')] == [True, None, 'mIoU', 1e-4]
    assert parse_value('[dict(type=LocalVisBackend), dict(type=WandbVisBackend, init_kwargs=dict(mode=offline))]') \
        == [{'type': 'LocalVisBackend'}, {'type': 'WandbVisBackend', 'init_kwargs': {'mode': 'offline'}}]
    assert parse_value('dict(scale=(512,1024), keep=[1,2])') == {'scale': (512, 1024), 'keep': [1, 2]}
    with pytest.raises(UserError, match="unbalanced brackets in 'dict\\(a=\\[1\\)'"):
        parse_value('[dict(a=[1)]')
    with pytest.raises(UserError, match="bad item '1' in 'dict\\(1\\)': expected dict\\(key=value"):
        parse_value('dict(1)')


def test_cfg_add_sets_new_keys_and_list_values_replace_lists(config):
    with pytest.raises(UserError, match=r'^unknown config key: default_hooks.checkpoint.save_best '
                                        r'\(--cfg-add KEY=VALUE adds a new key\)$'):
        load_config(config, ['default_hooks.checkpoint.save_best=mIoU'], cfg_add=[])
    cfg = load_config(config, ['visualizer.vis_backends=[dict(type=LocalVisBackend),dict(type=TensorboardVisBackend)]'],
                      cfg_add=['default_hooks.checkpoint.save_best=mIoU', 'default_hooks.checkpoint.rule=greater'])
    assert cfg.default_hooks.checkpoint == dict(type='CheckpointHook', by_epoch=False, interval=10, save_best='mIoU',
                                                rule='greater')
    assert cfg.visualizer.vis_backends == [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
    # A new key is still checked against the class it configures.
    with pytest.raises(UserError, match="unknown config key 'decode_haed' in model .*nearest valid name is 'decode_head'"):
        load_config(config, cfg_add=['model.decode_haed=dict(channels=8)'])
    with pytest.raises(UserError, match='^cannot add pipeline.5.type: pipeline is a list of 2 items$'):
        load_config(config, cfg_add=['pipeline.5.type=Resize'])
    with pytest.raises(UserError, match='^cannot add pipeline.1.scale.x: pipeline.1.scale is a tuple of 2 items$'):
        load_config(config, cfg_add=['pipeline.1.scale.x=1'])
    with pytest.raises(UserError, match=r'^model.decode_head.channels is a int: a dict\(...\) value merges into a dict'):
        load_config(config, ['model.decode_head.channels=dict(a=1)'])


def _lr_by_iteration(cfg, iters, lr=6e-5):
    """The learning rate after 0..iters steps of the config's schedulers."""
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer)) for s in cfg.param_scheduler]
    rates = [optimizer.param_groups[0]['lr']]
    for _ in range(iters):
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
        rates.append(optimizer.param_groups[0]['lr'])
    return rates


def test_max_iters_scales_schedule_warmup_and_intervals(capsys):
    cfg = run_experiments.prepare_config(run_experiments.parse_args([DAFORMER, '--max-iters', '400']))
    assert 'warning' not in capsys.readouterr().out
    assert cfg.train_cfg.max_iters == 400 and cfg.train_cfg.val_interval == 40  # 4000 of 40000
    assert cfg.default_hooks.checkpoint.interval == 40 and cfg.default_hooks.logger.interval == 50
    scheduler, = cfg.param_scheduler
    assert (scheduler.max_iters, scheduler.end, scheduler.warmup_iters) == (400, 400, 15)  # 1500 of 40000
    rates = _lr_by_iteration(cfg, 400)
    base = 6e-5
    # The original's closed form: poly(1) over 400 iterations times the linear warm-up over 15.
    for i in (0, 7, 14, 15, 200, 399):
        warm = 1 - (1 - i / 15) * (1 - 1e-6) if i < 15 else 1.0
        assert rates[i] == pytest.approx(base * (1 - i / 400) * warm, rel=1e-9, abs=1e-15), i
    assert rates[399] == pytest.approx(base / 400)  # the last iteration's rate: the decay has run its course


def test_max_iters_on_the_command_line_alone_warns_about_the_schedule(capsys):
    cfg = run_experiments.prepare_config(run_experiments.parse_args(
        [DAFORMER, '--cfg-options', 'train_cfg.max_iters=20000']))
    assert cfg.param_scheduler[0].end == 40000  # --cfg-options sets exactly what it names
    assert capsys.readouterr().out.splitlines() == [
        'warning: the learning-rate schedule ends at iteration 40000 but train_cfg.max_iters is 20000; '
        '--max-iters 20000 scales the schedule, warm-up and intervals with it']
    with pytest.raises(UserError, match='--max-iters must be 1 or more, got 0'):
        run_experiments.prepare_config(run_experiments.parse_args([DAFORMER, '--max-iters', '0']))


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
