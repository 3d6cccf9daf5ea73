"""MRM: the Rebuilder against closed forms (mask share, kept features, sizes, position embedding, parameter count),
its gradients, and the compositions DACS + MRM on DeepLabV2, DAFormer, HRDA and HRDA + MIC."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from daseg.models.uda import Rebuilder, sincos_pos_embed
from daseg.weights import sub_models
from speed_models import batch, build_dacs, segmentor_cfg, sgd, step

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

MIT_B5 = [64, 128, 320, 512]


def mrm(**rebuilder):
    options = dict(embed_dim=32, grid=4, num_heads=4)
    options.update(rebuilder)
    return dict(type='MaskedRepresentationModeling', rebuilder=options)


def maps(size, channels=MIT_B5, n=1, seed=0):
    """Backbone maps of an image of ``size`` at strides 4, 8, 16, 32."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, c, math.ceil(size[0] / s), math.ceil(size[1] / s), generator=g)
            for c, s in zip(channels, (4, 8, 16, 32))]


def test_masked_share_of_many_draws_is_the_ratio():
    rebuilder = Rebuilder(MIT_B5, [0, 1, 2, 3], embed_dim=32, num_heads=4)
    keep = rebuilder.keep_mask(300, torch.Generator().manual_seed(0))
    assert keep.shape == (300, 1, 16, 16) and 1 - keep.mean().item() == pytest.approx(0.40, abs=0.01)


@pytest.mark.parametrize('size', [(512, 512), (384, 768), (256, 512), (512, 1024)],
                         ids=['512', '768x384', 'hrda_context', 'hrda_detail_wide'])
def test_kept_positions_are_the_input_and_shapes_follow_the_maps(size):
    torch.manual_seed(0)
    rebuilder = Rebuilder(MIT_B5, [0, 1, 2, 3])  # the published defaults: 512 wide, 16 x 16 tokens
    feats = maps(size)
    keep = rebuilder.keep_mask(1, torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = rebuilder(feats, keep=keep)
    for f, o in zip(feats, out):
        assert o.shape == f.shape
        m = torch.nn.functional.interpolate(keep, size=f.shape[-2:], mode='nearest').expand_as(f).bool()
        assert torch.equal(o[m], f[m]) and not torch.equal(o[~m], f[~m])


def test_deeplabv2_rebuilds_its_single_map():
    rebuilder = Rebuilder(64, 3, embed_dim=32, num_heads=4)
    feats = [torch.randn(2, 8, 8, 8)] * 3 + [torch.randn(2, 64, 9, 11)]
    out = rebuilder(feats, generator=torch.Generator().manual_seed(0))
    assert all(o is f for o, f in zip(out[:3], feats)) and out[3].shape == feats[3].shape
    assert len(rebuilder.projectors) == 1 and sum(isinstance(m, torch.nn.ConvTranspose2d)
                                                  for m in rebuilder.projectors[0]) == 2


def test_position_embedding_is_maes_sine_cosine():
    dim, grid = 16, 3
    got = sincos_pos_embed(dim, grid)
    expected = np.zeros((grid * grid, dim))
    for h in range(grid):
        for w in range(grid):
            for half, pos in enumerate((w, h)):  # MAE's meshgrid puts the column coordinate first
                for k in range(dim // 4):
                    angle = pos / 10000 ** (k / (dim / 4))
                    expected[h * grid + w, half * dim // 2 + k] = math.sin(angle)
                    expected[h * grid + w, half * dim // 2 + dim // 4 + k] = math.cos(angle)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    assert not Rebuilder(MIT_B5, [0, 1, 2, 3], embed_dim=16, grid=3, num_heads=4).pos_embed.requires_grad


def test_parameter_count_of_the_default_rebuilder_for_mit_b5():
    e = 512

    def lin(i, o):
        return i * o + o

    def convt(i, o):
        return i * o * 16 + o

    def ln(c):
        return 2 * c
    block = ln(e) + lin(e, 3 * e) + lin(e, e) + ln(e) + lin(e, 4 * e) + lin(4 * e, e)
    projectors = (
        convt(e, 256) + ln(256) + convt(256, 128) + ln(128) + convt(128, 128) + lin(128, 64) + ln(64)  # stride 4
        + convt(e, 256) + ln(256) + convt(256, 128) + lin(128, 128) + ln(128)                          # stride 8
        + convt(e, 256) + lin(256, 320) + ln(320)                                                      # stride 16
        + lin(512, 512) + ln(512))                                                                     # stride 32
    expected = lin(512, e) + e + 2 * block + ln(e) + projectors
    rebuilder = Rebuilder(MIT_B5, [0, 1, 2, 3])
    assert sum(p.numel() for p in rebuilder.parameters()) == expected == 14_545_280


def test_gradients_reach_encoder_head_and_rebuilder():
    model = build_dacs(size=(32, 32), components=[mrm()])
    uda_step = model.begin_step(batch((32, 32)))
    model.teachers['ema_model'].update(model.ema_model, model.model, 0)
    losses = model.mrm.loss(model, uda_step)
    losses['decode.loss_ce'].backward()
    for part in (model.model.backbone, model.model.decode_head, model.mrm.rebuilder):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), type(part).__name__


def deeplab_cfg(size):
    cfg = segmentor_cfg(False, size)
    cfg['backbone'] = dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                           dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'),
                           contract_dilation=True)
    cfg['decode_head'] = dict(type='DLV2Head', in_channels=512, in_index=3, dilations=(6, 12), num_classes=19,
                              align_corners=False, loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    return cfg


@pytest.mark.parametrize('kind', ['deeplabv2', 'daformer', 'hrda', 'hrda_mic'])
def test_mrm_composes_and_trains(kind):
    init_default_scope('mmseg')
    size = (64, 64) if kind.startswith('hrda') else (32, 32)
    components = [mrm()]
    if kind == 'hrda_mic':
        components.insert(0, dict(type='MaskedConsistency', mask_mode='separatetrgaug',
                                  mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=16)))
    if kind == 'deeplabv2':
        from daseg.models.uda import DACS
        torch.manual_seed(0)
        model = DACS(model=deeplab_cfg(size), pseudo_threshold=0.1, components=components).train()
    else:
        model = build_dacs(hrda=kind.startswith('hrda'), size=size, components=components)
    optim = sgd(model)
    rebuilder_before = [p.clone() for p in model.mrm.rebuilder.parameters()]
    for iteration in range(2):
        log = step(model, optim, batch(size, seed=iteration), iteration)
    assert torch.isfinite(log['mrm.loss']) and log['mrm.loss'] > 0
    assert ('masked.loss' in log) == (kind == 'hrda_mic')
    assert ('mrm.decode.hr.loss_ce' in log) == kind.startswith('hrda')
    assert any(not torch.equal(a, b) for a, b in zip(rebuilder_before, model.mrm.rebuilder.parameters()))
    # Training checkpoints keep the Rebuilder; evaluation and merging see the segmentors only.
    state = model.state_dict()
    assert any(k.startswith('mrm.rebuilder.') for k in state)
    groups, _ = sub_models({'state_dict': state})
    assert not any(k.startswith('mrm') for g in groups.values() for k in g)
    assert groups['model'].keys() == model.model.state_dict().keys()


def test_the_rebuilder_has_its_own_learning_rate():
    from mmengine.optim import build_optim_wrapper

    from daseg.cli import load_config
    from daseg.engine.param_groups import with_merged_groups
    from entry_points import ROOT
    cfg = load_config(str(ROOT / 'configs/mrm/gta2cs_daformer_mrm_mitb5.py'))
    model = build_dacs(size=(32, 32), components=[mrm()])
    optim = build_optim_wrapper(model, with_merged_groups(cfg.optim_wrapper))
    lr_of = {id(p): group['lr'] for group in optim.optimizer.param_groups for p in group['params']}
    assert lr_of[id(model.mrm.rebuilder.embed.weight)] == pytest.approx(2e-4)
    assert lr_of[id(model.model.backbone.layers[0][0].projection.weight)] == pytest.approx(6e-5)
    assert lr_of[id(model.model.decode_head.conv_seg.weight)] == pytest.approx(6e-4)
