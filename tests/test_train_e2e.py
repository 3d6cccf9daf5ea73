"""run_experiments.py end to end on a tiny demo set: outputs, resume, seeds, and its user errors."""
import os.path as osp
import shutil

import pytest
import torch

from daseg.weights import load_checkpoint_file
from daseg.errors import UserError
from entry_points import ROOT, run_experiments
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/gta_source_only.py')
# A small, fast variant of the demo recipe: 2 images a batch, narrow head, no worker processes.
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.decode_head.channels=16',
        'model.decode_head.decoder_params.embed_dims=16', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2']
# Short training runs: torch on one thread (2 threads contend on a shared 2-core machine), config text unformatted.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    """A folder holding data/demo/gta with a handful of converted 64x36 images."""
    base = tmp_path_factory.mktemp('train')
    tiny_demo(base / 'data/demo', ('gta',), convert=('gta',))
    return base


def train(demo_dir, monkeypatch, work_dir, iters, *extra):
    monkeypatch.chdir(demo_dir)
    run_experiments.main(['--config', CONFIG, '--work-dir', work_dir,
                          '--cfg-options', f'train_cfg.max_iters={iters}', *FAST, *extra])
    return demo_dir / work_dir


@pytest.fixture(scope='module')
def seeded_run(demo_dir):
    """A finished 2-iteration run, seed 3, deterministic: the outputs test's run (resumed in a copy), the seed
    test's first run, the mixed-runs test's occupied work dir."""
    with pytest.MonkeyPatch.context() as mp:
        return train(demo_dir, mp, 'work_dirs/s1', 2, '--seed', '3', '--deterministic')


def test_outputs_and_resume(demo_dir, monkeypatch, seeded_run):
    out = seeded_run
    assert (out / 'gta_source_only.py').is_file()
    assert (out / 'training_curve.png').stat().st_size > 1000
    assert list(out.glob('*/*.log')), 'no training log written'
    ckpt = load_checkpoint_file(str(out / 'iter_2.pth'))
    assert ckpt['meta']['iter'] == 2 and ckpt['meta']['seed'] == 3
    assert (out / 'last_checkpoint').read_text().strip().endswith('iter_2.pth')
    assert not list(out.glob('.*.part')), 'a temporary checkpoint was left behind'

    # Resuming (a copy of the run: the other tests read it) continues from iteration 2 with the optimiser and
    # schedule state.
    out = demo_dir / 'work_dirs/a'
    shutil.copytree(seeded_run, out)
    train(demo_dir, monkeypatch, 'work_dirs/a', 4, '--resume', '--seed', '3', '--deterministic')
    resumed = load_checkpoint_file(str(out / 'iter_4.pth'))
    assert resumed['meta']['iter'] == 4
    assert resumed['param_schedulers'][0]['last_step'] == 4


def test_same_seed_same_weights(demo_dir, monkeypatch, seeded_run):
    a = seeded_run
    b = train(demo_dir, monkeypatch, 'work_dirs/s2', 2, '--seed', '3', '--deterministic')
    c = train(demo_dir, monkeypatch, 'work_dirs/s3', 2, '--seed', '4', '--deterministic')
    wa, wb, wc = (load_checkpoint_file(str(d / 'iter_2.pth'))['state_dict'] for d in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_refuses_to_mix_runs(demo_dir, monkeypatch, seeded_run):
    with pytest.raises(UserError, match='already holds a training run'):
        train(demo_dir, monkeypatch, str(seeded_run.relative_to(demo_dir)), 2)
    with pytest.raises(UserError, match='nothing to resume'):
        train(demo_dir, monkeypatch, 'work_dirs/empty', 2, '--resume')


def test_unknown_config_key(demo_dir, monkeypatch):
    with pytest.raises(UserError, match='unknown config key: model.decode_head.chanels'):
        train(demo_dir, monkeypatch, 'work_dirs/u', 2, 'model.decode_head.chanels=8')


def test_default_work_dir_is_timestamped(monkeypatch):
    path = run_experiments.default_work_dir('configs/demo/gta_source_only.py')
    head, name = osp.split(path)
    assert head == 'work_dirs' and name.endswith('_gta_source_only') and len(name) == len('yymmdd_HHMMSS_') + 15
