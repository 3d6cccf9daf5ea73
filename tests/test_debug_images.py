"""Debug pictures of the UDA step, the training curve's series and colours, and --vis tracking backends."""
import importlib.util
import types

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from PIL import Image

from daseg.engine import tracking
from daseg.engine.hooks import DebugImageHook, TrainingCurveHook
from daseg.engine.hooks.debug_images import hrda_attention
from daseg.errors import UserError
from entry_points import ROOT, run_experiments
from hrda_models import build_tiny_hrda
from speed_models import batch, build_dacs, sgd, step

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

CONFIG = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')
HAS_TENSORBOARD = importlib.util.find_spec('tensorboard') is not None
# source, its label, target, pseudo-label, weight, mix mask, mixed image, mixed label, HRDA scale attention
COLUMNS = 9
SIZE = (64, 64)  # HRDA's context at half resolution needs 64 pixels


def test_pictures_at_every_interval_hold_the_steps_tensors(tmp_path):
    model = build_dacs(hrda=True, size=SIZE, imnet_feature_dist_lambda=0.0)
    optim_wrapper = sgd(model)
    runner = types.SimpleNamespace(model=model, work_dir=str(tmp_path), logger=MMLogger.get_current_instance())
    hook = DebugImageHook(interval=2)
    hook.before_train(runner)
    for iteration in range(4):
        runner.iter = iteration
        hook.before_train_iter(runner, iteration)
        assert model.keep_step == (iteration % 2 == 1)
        step(model, optim_wrapper, batch(SIZE, seed=iteration), iteration)
        hook.after_train_iter(runner, iteration)
        assert model.last_step is None and not model.keep_step  # nothing kept beyond the picture
    assert sorted(p.name for p in (tmp_path / 'debug').iterdir()) == ['iter_2.png', 'iter_4.png']
    picture = np.asarray(Image.open(tmp_path / 'debug/iter_4.png').convert('RGB'))
    # The two images of the batch, one row each; panels of the training crop.
    assert picture.shape == (2 * SIZE[0], COLUMNS * SIZE[1], 3)
    for row in np.split(picture, 2, axis=0):
        panels = np.split(row, COLUMNS, axis=1)
        source_label, pseudo_label, mask, mixed_label = panels[1], panels[3], panels[5][..., 0], panels[7]
        assert set(np.unique(mask)) <= {0, 255} and (mask == 255).any()
        # ClassMix: the mixed label is the source label where the mask is set and the pseudo-label elsewhere.
        assert (mixed_label[mask == 255] == source_label[mask == 255]).all()
        assert (mixed_label[mask == 0] == pseudo_label[mask == 0]).all()


def test_debug_pictures_need_a_uda_model(tmp_path):
    runner = types.SimpleNamespace(model=torch.nn.Linear(1, 1), work_dir=str(tmp_path))
    with pytest.raises(UserError, match='debug pictures .* need a UDA model, got Linear'):
        DebugImageHook(interval=2).before_train(runner)


@pytest.mark.skipif(not HAS_TENSORBOARD, reason='tensorboard is not installed (pip install tensorboard)')
def test_vis_tensorboard_writes_an_events_file(tmp_path):
    from mmseg.registry import VISUALIZERS
    cfg = run_experiments.prepare_config(run_experiments.parse_args([CONFIG, '--vis', 'tensorboard',
                                                                     '--work-dir', str(tmp_path)]))
    visualizer = VISUALIZERS.build(dict(cfg.visualizer, name='tensorboard_test', save_dir=str(tmp_path)))
    visualizer.add_scalars({'loss': 0.5}, step=1)
    visualizer.close()
    assert list(tmp_path.glob('vis_data/events.out.tfevents.*'))


def test_vis_without_its_package_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(UserError, match=r"^--vis wandb needs the wandb package: pip install '\.\[wandb\]'"):
        tracking.tracker_backend('wandb', 'exp')


def test_vis_backends_are_added_once_and_offline(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: object())
    monkeypatch.delenv('WANDB_MODE', raising=False)
    cfg = types.SimpleNamespace(filename='configs/x/dacs.py', visualizer=dict(
        type='SegLocalVisualizer', vis_backends=(dict(type='LocalVisBackend'),)))
    cfg.get = lambda key, default=None: getattr(cfg, key, default)
    tracking.configure_tracking(cfg, ['wandb', 'tensorboard', 'wandb'])
    assert cfg.visualizer['vis_backends'] == [
        dict(type='LocalVisBackend'), dict(type='WandbVisBackend', init_kwargs=dict(mode='offline', project='dacs')),
        dict(type='TensorboardVisBackend')]


def test_a_vis_backend_that_is_not_a_dict_is_one_clear_line():
    with pytest.raises(UserError, match=r"^visualizer.vis_backends\[1\] must be dict\(type=NAME, ...\), e.g. "
                                        r"dict\(type=TensorboardVisBackend\), got 'tensorboard'"):
        tracking.vis_backends_list(dict(vis_backends=[dict(type='LocalVisBackend'), 'tensorboard']))


def test_hrda_attention_is_the_heads_attention_output():
    torch.manual_seed(0)
    model = build_tiny_hrda().train()
    img = torch.randn(1, 3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    att = hrda_attention(model, img)
    assert att.shape == (1, 64, 64) and 0 <= att.min() and att.max() <= 1
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    model.eval()
    model.decode_head.output = 'att'  # the head's own attention output, as logits
    with torch.no_grad():
        logits = model.decode_head(model.multires_features(img))
    expected = torch.nn.functional.interpolate(torch.sigmoid(logits), size=(64, 64), mode='bilinear')[:, 0]
    torch.testing.assert_close(att, expected, atol=1e-5, rtol=0)


def test_training_curve_has_the_val_series_one_colour_per_legend_entry_and_no_duplicates():
    hook = TrainingCurveHook(smooth=2)
    hook.iters, hook.lrs = [1, 2, 3, 4], [1e-3] * 4
    hook.losses = {'loss': [3.0, 2.0, 2.5, 1.0], 'src.loss': [1.0, 0.5, 0.7, 0.2],
                   'src.decode.loss_ce': [1.0, 0.5, 0.7, 0.2], 'mix.loss': [2.0, 1.5, 1.8, 0.8]}
    for iteration, miou in ((2, 31.5), (4, 40.0)):
        hook.after_val_epoch(types.SimpleNamespace(iter=iteration), {'mIoU': miou, 'aAcc': 80.0})
    assert hook.val == {'mIoU': ([2, 4], [31.5, 40.0])}
    fig = hook.figure()
    losses, _, val = fig.axes[:3]
    legend = {text.get_text(): line.get_color() for text, line in zip(losses.get_legend().get_texts(),
                                                                      losses.get_legend().get_lines())}
    assert set(legend) == {'loss', 'src.loss', 'mix.loss'}
    raw = [line for line in losses.get_lines() if line.get_alpha() == 0.25]
    assert sorted(line.get_color() for line in raw) == sorted(legend.values())  # each raw curve has its entry
    (miou,) = val.get_lines()
    assert list(miou.get_xdata()) == [2, 4] and list(miou.get_ydata()) == [31.5, 40.0]
