"""The union-set pipeline end to end on tiny demo data (CPU): all stages from one command; adaptation that opens
no source file; a run killed inside stage 1 and run again ends with the same final model as an uninterrupted run
(its stages 0 and pl1 are the uninterrupted run's, copied: done stages are skipped); a stage done with other
settings is refused by name."""
import json
import shutil

import pytest
import torch
from mmengine.registry import DATASETS
from mmseg.registry import DATASETS as SEG_DATASETS

from daseg.errors import UserError
from daseg.models.unionset.stage1 import UnionSetStage1
from daseg.weights import load_checkpoint_file
from entry_points import ROOT, run_experiments
from interrupt import interrupt_at
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/unionset_gta_synthia2cityscapes_p.py')
STAGES = ['stage0_gta', 'stage0_synthia', 'pl1', 'stage1', 'pl2', 'stage2', 'eval']
FAST = ['stages.iters.stage0=4', 'stages.iters.stage1=4', 'stages.iters.stage2=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False']
SOURCE_DATASETS = ('GTADataset', 'SynthiaDataset')
# Short training runs: torch on one thread (2 threads contend on a shared 2-core machine), config text unformatted.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    """data/demo with a few 64x32 images of the GTA-, SYNTHIA- and Cityscapes-like domains, converted."""
    base = tmp_path_factory.mktemp('unionset')
    domains = ('gta', 'synthia', 'cityscapes')
    tiny_demo(base / 'data/demo', domains, convert=domains, size=(64, 32))
    return base


def run(demo_dir, monkeypatch, work_dir, *flags, options=()):
    monkeypatch.chdir(demo_dir)
    run_experiments.main([CONFIG, '--work-dir', work_dir, *flags, '--cfg-options', *FAST, *options])
    return demo_dir / work_dir


def recording(build, built):
    """``build`` that also notes the type of every dataset it builds."""
    def wrapped(cfg, *args, **kwargs):
        built.append(cfg.get('type'))
        return build(cfg, *args, **kwargs)
    return wrapped


def copy_done_stages(base, source, target, names):
    """The stage folders ``names`` of the pipeline in ``base / source`` copied into ``base / target``, the files
    their records name (by path) those of the copies."""
    for name in names:
        shutil.copytree(base / source / name, base / target / name)
        done = base / target / name / 'DONE.json'
        done.write_text(done.read_text().replace(f'{source}/', f'{target}/'))


def final_weights(out):
    return load_checkpoint_file(str(out / 'stage2/iter_2.pth'))['state_dict']


@pytest.fixture(scope='module')
def uninterrupted(demo_dir):
    with pytest.MonkeyPatch.context() as mp:
        return run(demo_dir, mp, 'work_dirs/whole')


def test_all_stages_from_one_command(uninterrupted):
    out = uninterrupted
    for stage in STAGES:
        done = json.loads((out / stage / 'DONE.json').read_text())
        assert done['stage'] == stage
    pl = json.loads((out / 'pl1/labels/thresholds.json').read_text())
    assert pl['images'] == len(list((out / 'pl1/labels').rglob('*_psl.png'))) > 0
    assert all(c['threshold'] <= 0.9 + 1e-6 for c in pl['classes'].values())
    results = json.loads((out / 'eval/results.json').read_text())
    labels = [e['label'] for e in results['checkpoints']]
    assert labels == ['gta source model', 'synthia source model', 'sources averaged (pl1)', 'stage 1',
                      'final (stage 2)']
    assert results['which'] == 'last iteration of every stage'
    assert len(results['classes']) == 19


def test_killed_in_stage1_then_rerun_is_source_free_and_ends_the_same(uninterrupted, demo_dir, monkeypatch,
                                                                     capsys):
    # Stages 0 and pl1 as the uninterrupted run left them: a new pipeline folder holding them skips them.
    out = demo_dir / 'work_dirs/killed'
    copy_done_stages(demo_dir, 'work_dirs/whole', 'work_dirs/killed', STAGES[:3])
    real_step = interrupt_at(monkeypatch, UnionSetStage1, 3)  # as a kill after the checkpoint of iteration 2
    with pytest.raises(KeyboardInterrupt):
        run(demo_dir, monkeypatch, 'work_dirs/killed')
    log = capsys.readouterr().out
    for index, stage in enumerate(STAGES[:3], 1):
        assert f'[{index}/7] {stage}: done, skipped ({out / stage})' in log
    assert (out / 'stage1/iter_2.pth').is_file() and not (out / 'stage1/DONE.json').exists()
    monkeypatch.setattr(UnionSetStage1, 'train_step', real_step)

    # The sources are gone: the adaptation must neither build a source dataset nor open a source file.
    moved = demo_dir / 'moved_sources'
    moved.mkdir()
    for name in ('gta', 'synthia'):
        shutil.move(str(demo_dir / 'data/demo' / name), str(moved / name))
    built = []
    for registry in (DATASETS, SEG_DATASETS):  # the Runner's and the evaluation's
        monkeypatch.setattr(registry, 'build', recording(registry.build, built))
    try:
        run(demo_dir, monkeypatch, 'work_dirs/killed', '--resume')
    finally:
        for name in ('gta', 'synthia'):
            shutil.move(str(moved / name), str(demo_dir / 'data/demo' / name))
    assert built and not set(built) & set(SOURCE_DATASETS), built
    assert 'CheckedCityscapesDataset' in built

    a, b = final_weights(uninterrupted), final_weights(out)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key


def test_refuses_a_done_stage_with_other_settings_and_a_rerun_without_resume(uninterrupted, demo_dir,
                                                                           monkeypatch):
    with pytest.raises(UserError, match='add --resume'):
        run(demo_dir, monkeypatch, 'work_dirs/whole')
    with pytest.raises(UserError, match=r'stage stage2 was done with other settings .*stage2'):
        run(demo_dir, monkeypatch, 'work_dirs/whole', '--resume', options=['stages.iters.stage2=4'])
    # Everything done and the same settings: every stage is skipped.
    run(demo_dir, monkeypatch, 'work_dirs/whole', '--resume')


@pytest.mark.parametrize('option,message', [
    ('stages.setting=q', "unknown label setting 'q'|setting"),
    ('stages.iters=dict(stage3=5)', 'unknown stage'),
    ("stages.void=none", 'stages.void must be one of'),
    ("stages.source_checkpoints=dict(gta='missing.pth')", 'the gta model missing.pth does not exist'),
    ("stages.type=Nothing", 'stages.type must name a pipeline'),
])
def test_bad_stage_options_stop_before_any_work(tmp_path, option, message):
    from daseg.cli import load_config
    from daseg.pipelines import build_stages
    cfg = load_config(CONFIG, cfg_add=[option])
    with pytest.raises(UserError, match=message):
        build_stages(cfg)


def test_select_on_target_val_validates_every_checkpoint_interval():
    """--select-on-target-val: each training stage validates on the target's labelled val set at every checkpoint
    interval and keeps the best checkpoint; without it, no stage reads a target label."""
    from daseg.cli import load_config
    from daseg.pipelines import UnionSetStages
    cfg = load_config(CONFIG)
    spec = {k: v for k, v in cfg.stages.items() if k != 'type'}
    pipeline = UnionSetStages(**spec)
    base = {k: v for k, v in cfg.to_dict().items() if k not in ('model', 'stages')}
    selected = pipeline.training_cfg(base, 'stage1', dict(type='UnionSetStage1'), {}, select=True)
    assert selected.val_dataloader.dataset == cfg.stages.target_val
    assert selected.default_hooks.checkpoint.save_best == 'mIoU'
    assert selected.train_cfg.val_interval == selected.default_hooks.checkpoint.interval
    plain = pipeline.training_cfg(base, 'stage1', dict(type='UnionSetStage1'), {}, select=False)
    assert 'val_dataloader' not in plain and 'save_best' not in plain.default_hooks.checkpoint
