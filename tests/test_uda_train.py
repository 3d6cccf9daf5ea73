"""DACS training end to end on a tiny demo pair: exact resume, the student/teacher checkpoint layout, and
a non-finite loss stopping the run without harming the last checkpoint."""
import shutil

import pytest
import torch

from daseg.weights import load_checkpoint_file
from daseg.errors import UserError
from daseg.models.uda import ClassMixSelfTraining
from entry_points import ROOT, run_experiments
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')
# DACS + MIC with MIC's own EMA teacher: every sub-model and component resumes exactly too.
MIC = [str(ROOT / 'configs/demo/gta2cityscapes_mic.py'), 'model.components.0.mask_alpha=0.99']
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.model.decode_head.channels=16',
        'model.model.decode_head.decoder_params.embed_dims=16',
        'train_dataloader.dataset.rare_class_sampling.min_pixels=20', 'default_hooks.checkpoint.interval=2']
# Short training runs: torch on one thread (2 threads contend on a shared 2-core machine), config text unformatted.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp('uda_train')
    tiny_demo(base / 'data/demo', ('gta', 'cityscapes'), convert=('gta',), scale=0.03)
    return base


def train(demo_dir, monkeypatch, work_dir, iters, *extra, config=(CONFIG,)):
    monkeypatch.chdir(demo_dir)
    torch.set_flush_denormal(True)
    run_experiments.main(['--config', config[0], '--work-dir', work_dir, '--seed', '1', '--deterministic',
                          '--cfg-options', f'train_cfg.max_iters={iters}', *FAST, *config[1:], *extra])
    return demo_dir / work_dir


@pytest.fixture(scope='module')
def two_iterations(demo_dir):
    """``copy(work_dir, config)``: a copy in ``work_dir`` of a 2-iteration run of ``config`` (each config trained
    once for the module: the resume test and the non-finite-loss test continue the same DACS run)."""
    runs = {}

    def copy(work_dir, config):
        if config not in runs:
            with pytest.MonkeyPatch.context() as mp:
                runs[config] = train(demo_dir, mp, f'work_dirs/two_iterations_{len(runs)}', 2, config=config)
        shutil.copytree(runs[config], demo_dir / work_dir)
        return demo_dir / work_dir
    return copy


@pytest.mark.parametrize('config', [(CONFIG,), MIC], ids=['dacs', 'dacs_mic'])
def test_resume_gives_the_weights_of_a_straight_run(demo_dir, monkeypatch, two_iterations, config):
    name = 'mic' if len(config) > 1 else 'dacs'
    straight = load_checkpoint_file(str(train(demo_dir, monkeypatch, f'work_dirs/straight_{name}', 4, config=config)
                                        / 'iter_4.pth'))
    two_iterations(f'work_dirs/halves_{name}', tuple(config))
    resumed = load_checkpoint_file(str(train(demo_dir, monkeypatch, f'work_dirs/halves_{name}', 4, '--resume',
                                             config=config) / 'iter_4.pth'))
    a, b = straight['state_dict'], resumed['state_dict']
    assert any(k.startswith('model.') for k in a) and any(k.startswith('ema_model.') for k in a)
    assert not any(k.startswith('imnet_model.') for k in a)  # no feature distance in the demo
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
    # The teacher followed the student but is not a copy of it.
    assert not torch.equal(a['model.decode_head.conv_seg.weight'], a['ema_model.decode_head.conv_seg.weight'])
    assert any(k.startswith('mic.teacher.ema_model.') for k in a) == (name == 'mic')


def test_non_finite_loss_stops_and_keeps_the_checkpoint(demo_dir, monkeypatch, two_iterations):
    out = two_iterations('work_dirs/nan', (CONFIG,))
    before = (out / 'iter_2.pth').read_bytes()
    monkeypatch.setattr(ClassMixSelfTraining, 'loss', lambda self, uda, step: {'loss_ce': torch.tensor(float('nan'))})
    with pytest.raises(UserError, match='non-finite mix loss .* at iteration 2'):
        train(demo_dir, monkeypatch, 'work_dirs/nan', 4, '--resume')
    assert (out / 'iter_2.pth').read_bytes() == before
    assert not (out / 'iter_4.pth').exists()
