"""HRDA + DACS end to end on a tiny demo pair: a few training iterations, the HRDA checkpoint layout, and
evaluation through test.sh's command with each --hrda-out."""
import json

import pytest
import torch

from daseg.weights import load_checkpoint_file
from daseg.errors import UserError
from entry_points import ROOT, run_experiments
from evaluation_command import run_evaluation
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/gta2cityscapes_hrda.py')
# Narrow heads, whole 96x64 images as training crops, a 32x32 detail crop; at test time 32x32 detail windows
# (stride 16) inside 64x64 fused windows (stride 32). MiT needs inputs of at least 32 pixels a side (its first
# attention reduction is an 8x8 conv on the stride-4 map), hence no smaller sizes. No worker processes.
SIZE = (96, 64)
TEST = ['model.model.test_cfg.crop_size=[64,64]', 'model.model.test_cfg.stride=[32,32]']
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.model.decode_head.channels=16',
        'model.model.decode_head.decoder_params.embed_dims=16', 'model.model.decode_head.attention_embed_dim=8',
        f'model.model.data_preprocessor.size=[{SIZE[1]},{SIZE[0]}]', 'model.model.hr_crop_size=[32,32]', *TEST,
        'train_dataloader.dataset.rare_class_sampling.min_pixels=20', 'default_hooks.checkpoint.interval=2']
# Short training runs: torch on one thread (2 threads contend on a shared 2-core machine), config text unformatted.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 2-iteration HRDA + DACS run on converted 96x64 demo images; returns (demo folder, work dir)."""
    base = tmp_path_factory.mktemp('hrda_train')
    tiny_demo(base / 'data/demo', ('gta', 'cityscapes'), convert=('gta', 'cityscapes'), size=SIZE)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        torch.set_flush_denormal(True)
        run_experiments.main(['--config', CONFIG, '--work-dir', 'work_dirs/hrda', '--seed', '1',
                              '--cfg-options', 'train_cfg.max_iters=2', *FAST])
    return base, base / 'work_dirs/hrda'


def test_training_writes_an_hrda_uda_checkpoint(trained):
    _, work_dir = trained
    state = load_checkpoint_file(str(work_dir / 'iter_2.pth'))['state_dict']
    for prefix in ('model.', 'ema_model.'):
        assert f'{prefix}decode_head.head.conv_seg.weight' in state
        assert state[f'{prefix}decode_head.scale_attention.conv_seg.weight'].shape[0] == 19  # class-wise
    assert not any(k.endswith('decode_head.conv_seg.weight') for k in state)
    # The student trained: it moved away from the teacher (EMA with alpha 0.999 after one update).
    key = 'decode_head.scale_attention.conv_seg.weight'
    assert not torch.equal(state['model.' + key], state['ema_model.' + key])


@pytest.mark.parametrize('output', [None, 'lr', 'hr', 'att'])
def test_evaluation_through_the_test_command(trained, monkeypatch, output):
    base, work_dir = trained
    monkeypatch.chdir(base)
    out = base / f'eval_{output}'
    results, _ = run_evaluation(str(work_dir), targets=['cityscapes'], device='cpu', workers=0, out=str(out),
                                cfg_options=TEST, hrda_out=output)
    written = json.loads((out / 'results.json').read_text())
    miou = written['checkpoints'][0]['targets']['cityscapes']['mIoU']
    assert results['checkpoints'][0]['targets']['cityscapes']['mIoU'] == pytest.approx(miou)
    assert 0 <= miou <= 100


def test_hrda_out_needs_an_hrda_model(trained, monkeypatch):
    base, work_dir = trained
    monkeypatch.chdir(base)
    config = str(ROOT / 'configs/demo/gta_source_only.py')
    with pytest.raises(UserError, match='--hrda-out needs an HRDA model'):
        run_evaluation(config, str(work_dir / 'iter_2.pth'), targets=['cityscapes'], device='cpu', workers=0,
                       out=str(base / 'eval_bad'), hrda_out='lr')
