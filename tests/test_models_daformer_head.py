"""DAFormer head: original key names, output shape, parameter count; the base model configs build and run."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import daseg  # noqa: F401  (registers MiT and DAFormerHead)
from daseg.errors import UserError
from daseg.models.backbones.mit import arch_out_channels
from mmseg.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / 'configs' / '_base_' / 'models'
BN = dict(type='BN', requires_grad=True)


def build_head(in_channels=(64, 128, 320, 512), embed_dims=256, channels=256, num_classes=19, **fusion):
    fusion_cfg = fusion or dict(type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False,
                                act_cfg=dict(type='ReLU'), norm_cfg=BN)
    return MODELS.build(dict(
        type='DAFormerHead', in_channels=list(in_channels), in_index=list(range(len(in_channels))),
        channels=channels, dropout_ratio=0.1, num_classes=num_classes, norm_cfg=BN, align_corners=False,
        decoder_params=dict(embed_dims=embed_dims, fusion_cfg=fusion_cfg)))


def features(in_channels, n=2, size=64):
    return [torch.randn(n, c, size // s, size // s) for c, s in zip(in_channels, (4, 8, 16, 32))]


def original_key_set():
    """The decode-head keys of a released DAFormer checkpoint (ORIGINALS.md section 5)."""
    bn = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    keys = {f'embed_layers.{i}.proj.{p}' for i in range(4) for p in ('weight', 'bias')}
    keys |= {'fuse_layer.aspp_modules.0.conv.weight'} | {f'fuse_layer.aspp_modules.0.bn.{p}' for p in bn}
    for i in (1, 2, 3):
        for part in ('depthwise_conv', 'pointwise_conv'):
            keys |= {f'fuse_layer.aspp_modules.{i}.{part}.conv.weight'}
            keys |= {f'fuse_layer.aspp_modules.{i}.{part}.bn.{p}' for p in bn}
    keys |= {'fuse_layer.bottleneck.conv.weight'} | {f'fuse_layer.bottleneck.bn.{p}' for p in bn}
    return keys | {'conv_seg.weight', 'conv_seg.bias'}


def test_final_config_key_set_and_shapes():
    cfg = Config.fromfile(CONFIGS / 'daformer_sepaspp_mitb5.py')
    sd = MODELS.build(cfg.model.decode_head).state_dict()
    assert set(sd) == original_key_set()
    shapes = {
        'embed_layers.0.proj.weight': (256, 64), 'embed_layers.3.proj.weight': (256, 512),
        'fuse_layer.aspp_modules.0.conv.weight': (256, 1024, 1, 1),
        'fuse_layer.aspp_modules.2.depthwise_conv.conv.weight': (1024, 1, 3, 3),
        'fuse_layer.aspp_modules.2.pointwise_conv.conv.weight': (256, 1024, 1, 1),
        'fuse_layer.bottleneck.conv.weight': (256, 1024, 3, 3), 'conv_seg.weight': (19, 256, 1, 1)}
    assert {k: tuple(sd[k].shape) for k in shapes} == shapes


def test_output_shape():
    head = build_head().eval()
    with torch.no_grad():
        assert head(features([64, 128, 320, 512])).shape == (2, 19, 16, 16)


def test_dilations_reach_the_branches():
    branches = build_head().fuse_layer.aspp_modules
    assert branches[0].conv.kernel_size == (1, 1)
    assert [branches[i].depthwise_conv.conv.dilation for i in (1, 2, 3)] == [(6, 6), (12, 12), (18, 18)]


def test_parameter_count_by_hand():
    c_in, e, ch, k = [4, 8, 12, 16], 8, 8, 3
    embed = sum(c * e + e for c in c_in)  # Linear proj per level
    fused = 4 * e
    bn = lambda c: 2 * c  # noqa: E731  (BN weight + bias)
    # sep-ASPP, dilations (1, 2): 1x1 conv branch, one depthwise-separable branch, 3x3 bottleneck over 2 branches
    sep_aspp = (fused * ch + bn(ch)) + (fused * 9 + bn(fused) + fused * ch + bn(ch)) + (2 * ch * ch * 9 + bn(ch))
    # plain ASPP, dilations (1, 2): the dilated branch is a full 3x3 conv
    aspp = (fused * ch + bn(ch)) + (fused * ch * 9 + bn(ch)) + (2 * ch * ch * 9 + bn(ch))
    cls = ch * k + k
    for sep, fusion in ((True, sep_aspp), (False, aspp)):
        head = build_head(c_in, e, ch, k, type='aspp', sep=sep, dilations=(1, 2), pool=False,
                          act_cfg=dict(type='ReLU'), norm_cfg=BN)
        assert sum(p.numel() for p in head.parameters()) == embed + fusion + cls
    mlp = build_head(c_in, e, ch, k, type='mlp')  # linear: 1x1 conv with bias, no norm
    assert sum(p.numel() for p in mlp.parameters()) == embed + fused * ch + ch + cls
    conv1 = build_head(c_in, e, ch, k, type='conv', kernel_size=1, act_cfg=dict(type='ReLU'), norm_cfg=BN)
    assert sum(p.numel() for p in conv1.parameters()) == embed + fused * ch + bn(ch) + cls


def test_in_channels_mismatch_is_a_user_error():
    head = build_head().eval()
    with pytest.raises(UserError, match=r'backbone output 0 has 32 channels but decode_head.in_channels says 64'):
        head(features([32, 64, 160, 256]))


def test_unknown_fusion_type():
    with pytest.raises(UserError, match='isa'):
        build_head(type='isa')


@pytest.mark.parametrize('name', ['daformer_sepaspp_mitb0', 'daformer_sepaspp_mitb5', 'daformer_aspp_mitb5',
                                  'daformer_mlp_mitb5', 'daformer_conv1_mitb5', 'segformer_mitb5'])
def test_model_configs_build_and_run(name):
    init_default_scope('mmseg')
    cfg = Config.fromfile(CONFIGS / f'{name}.py')
    arch = cfg.model.backbone.arch
    assert cfg.model.decode_head.in_channels == arch_out_channels(arch)
    assert cfg.model.backbone.pretrained == f'pretrained/mit_{arch}.pth'
    # Run every head on the small encoder: switching arch means switching in_channels with it.
    cfg.model.backbone.update(arch='b0', pretrained=None)
    cfg.model.decode_head.in_channels = arch_out_channels('b0')
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 19, 16, 16)
