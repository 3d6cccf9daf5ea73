"""DeepLabV2 on ResNet-101 V1c: the DLV2 head, the model configs, weights-only ImageNet loading, and a released
DeepLabV2 checkpoint computing the original function (checked against a plain-functional reference)."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from daseg.weights import load_segmentor_weights
from daseg.cli import load_config
from daseg.errors import UserError
from daseg.models.backbones.resnet import CheckedResNetV1c

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# torchvision's ResNet-101 (V1b: one 7x7 stem conv) has 44,549,160 parameters, its 1000-class fc included.
TORCHVISION_R101 = 44_549_160


# Small convolutions on big models: on a busy 2-core machine a second thread only waits (measured: 36 s
# with 2 threads, 14 s with 1 for both files).
pytestmark = pytest.mark.usefixtures('one_thread')


# ---------------------------------------------------------------------------------------------------------------
# The original checkpoint layout (reference/ORIGINALS.md section 5), written out independently of our modules.
# ---------------------------------------------------------------------------------------------------------------

def bn_keys(prefix, channels):
    return {f'{prefix}.{name}': (channels,) for name in ('weight', 'bias', 'running_mean', 'running_var')} | {
        f'{prefix}.num_batches_tracked': ()}


def resnet_v1c_keys(depth=101):
    """Key -> shape of mmcv's ResNet-V1c ImageNet weights, without the classifier."""
    keys = {'stem.0.weight': (32, 3, 3, 3), **bn_keys('stem.1', 32), 'stem.3.weight': (32, 32, 3, 3),
            **bn_keys('stem.4', 32), 'stem.6.weight': (64, 32, 3, 3), **bn_keys('stem.7', 64)}
    inplanes = 64
    for stage, n in enumerate(BLOCKS[depth], 1):
        planes = 64 * 2 ** (stage - 1)
        for k in range(n):
            p = f'layer{stage}.{k}'
            keys |= {f'{p}.conv1.weight': (planes, inplanes, 1, 1), **bn_keys(f'{p}.bn1', planes),
                     f'{p}.conv2.weight': (planes, planes, 3, 3), **bn_keys(f'{p}.bn2', planes),
                     f'{p}.conv3.weight': (4 * planes, planes, 1, 1), **bn_keys(f'{p}.bn3', 4 * planes)}
            if k == 0:
                keys |= {f'{p}.downsample.0.weight': (4 * planes, inplanes, 1, 1),
                         **bn_keys(f'{p}.downsample.1', 4 * planes)}
            inplanes = 4 * planes
    return keys


def dlv2_keys(dilations, in_channels=2048, num_classes=19):
    keys = {}
    for j in range(len(dilations)):
        keys |= {f'aspp_modules.{j}.conv.weight': (num_classes, in_channels, 3, 3),
                 f'aspp_modules.{j}.conv.bias': (num_classes,)}
    return keys


def random_weights(shapes, seed=0):
    """Values that keep a deep random network finite: He-scaled convs, BN near identity, damped residuals."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            out[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith(('running_mean', 'bias')):
            out[key] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight; the last BN of a residual branch is small, as after training
            out[key] = (0.1 if '.bn3.' in key else 1.0) * (0.5 + 0.5 * torch.rand(shape, generator=g))
        else:
            fan_in = shape[1] * shape[2] * shape[3]
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    return out


# ---------------------------------------------------------------------------------------------------------------
# Reference: the original DeepLabV2-ResNet-V1c function in plain torch.nn.functional.
# ---------------------------------------------------------------------------------------------------------------

def ref_bn(x, sd, p):
    return F.batch_norm(x, sd[f'{p}.running_mean'], sd[f'{p}.running_var'], sd[f'{p}.weight'], sd[f'{p}.bias'],
                        training=False, eps=1e-5)


def ref_resnet_v1c(x, sd, depth=101, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)):
    """Stem of three 3x3 convs (the first with stride 2), 3x3/2 max-pool, bottlenecks with the stride on the 3x3
    conv; with contract_dilation the first block of a dilated stage uses half the rate."""
    for conv, bn, stride in (('stem.0', 'stem.1', 2), ('stem.3', 'stem.4', 1), ('stem.6', 'stem.7', 1)):
        x = F.relu(ref_bn(F.conv2d(x, sd[f'{conv}.weight'], stride=stride, padding=1), sd, bn))
    x = F.max_pool2d(x, 3, 2, 1)
    outs = []
    for stage, (n, stride, dilation) in enumerate(zip(BLOCKS[depth], strides, dilations), 1):
        for k in range(n):
            p = f'layer{stage}.{k}'
            s = stride if k == 0 else 1
            d = dilation // 2 if k == 0 and dilation > 1 else dilation
            out = F.relu(ref_bn(F.conv2d(x, sd[f'{p}.conv1.weight']), sd, f'{p}.bn1'))
            out = F.relu(ref_bn(F.conv2d(out, sd[f'{p}.conv2.weight'], stride=s, padding=d, dilation=d), sd,
                                f'{p}.bn2'))
            out = ref_bn(F.conv2d(out, sd[f'{p}.conv3.weight']), sd, f'{p}.bn3')
            if k == 0:
                x = ref_bn(F.conv2d(x, sd[f'{p}.downsample.0.weight'], stride=s), sd, f'{p}.downsample.1')
            x = F.relu(out + x)
        outs.append(x)
    return outs


def ref_dlv2(x, sd, dilations):
    return sum(F.conv2d(x, sd[f'aspp_modules.{j}.conv.weight'], sd[f'aspp_modules.{j}.conv.bias'], padding=d,
                        dilation=d) for j, d in enumerate(dilations))


def closed_form_params(depth, dilations, num_classes=19):
    """Parameters of ResNet-V1c-``depth`` + the DLV2 head, summed layer by layer."""
    total = 3 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 2 * (32 + 32 + 64)  # stem convs + BN affine
    inplanes = 64
    for stage, n in enumerate(BLOCKS[depth]):
        p = 64 * 2 ** stage
        for k in range(n):
            total += inplanes * p + 9 * p * p + p * 4 * p + 2 * (p + p + 4 * p)
            if k == 0:
                total += inplanes * 4 * p + 2 * 4 * p
            inplanes = 4 * p
    return total + len(dilations) * (2048 * num_classes * 9 + num_classes)


def build(config, **backbone):
    init_default_scope('mmseg')
    cfg = load_config(str(ROOT / 'configs' / config))
    segmentor = cfg.model.get('model', cfg.model)
    segmentor.backbone.update(backbone)
    return MODELS.build(cfg.model), cfg


# ---------------------------------------------------------------------------------------------------------------
# DLV2Head
# ---------------------------------------------------------------------------------------------------------------

def head(**kwargs):
    init_default_scope('mmseg')
    return MODELS.build(dict(dict(type='DLV2Head', in_channels=8, in_index=3, num_classes=5), **kwargs))


def test_dlv2_head_keys_and_function_on_the_selected_level():
    torch.manual_seed(0)
    model = head(dilations=(1, 3)).eval()
    assert sorted(model.state_dict()) == sorted(dlv2_keys((1, 3), in_channels=8, num_classes=5))
    assert not hasattr(model, 'conv_seg') and model.dropout is None
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
        feats = [torch.randn(2, c, 9, 11) for c in (3, 4, 6)] + [torch.randn(2, 8, 9, 11)]
        out = model(feats)
    expected = ref_dlv2(feats[3], model.state_dict(), (1, 3))
    assert out.shape == (2, 5, 9, 11)
    torch.testing.assert_close(out, expected)


def test_dlv2_head_init_and_variants():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='DLV2Head', in_channels=256, in_index=0, num_classes=19))
    model.init_weights()
    assert model.dilations == (6, 12, 18, 24)
    weights = torch.cat([m.conv.weight.flatten() for m in model.aspp_modules])
    assert abs(weights.std().item() - 0.01) < 0.001 and abs(weights.mean().item()) < 0.001
    assert not any(m.conv.bias.any() for m in model.aspp_modules)
    # The non-classwise HRDA attention is a DLV2 head with a single output map.
    assert head(num_classes=1, threshold=0.5)([torch.zeros(1, 8, 4, 4)] * 4).shape == (1, 1, 4, 4)


@pytest.mark.parametrize('kwargs, message', [
    (dict(channels=256), 'channels is fixed to 1'),
    (dict(dropout_ratio=0.1), 'dropout_ratio is fixed to 0'),
    (dict(norm_cfg=dict(type='BN')), 'norm_cfg is fixed to None'),
    (dict(dilations=()), 'dilations must be a non-empty list of positive ints'),
    (dict(dilations=(6, 0)), 'dilations must be'),
    (dict(in_channels=[8, 8]), 'in_channels must be one int'),
])
def test_dlv2_head_bad_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        head(**kwargs)


def test_dlv2_head_accepts_the_fixed_values():
    assert head(channels=1, dropout_ratio=0, norm_cfg=None).channels == 1


def test_dlv2_head_wrong_input_channels():
    with pytest.raises(UserError, match='backbone output 3 has 6 channels but decode_head.in_channels says 8'):
        head()([torch.zeros(1, 6, 4, 4)] * 4)


# ---------------------------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------------------------

def test_resnet101_v1c_size_matches_torchvision():
    # V1c differs from torchvision's V1b only in the stem: three 3x3 convs (and BNs) instead of one 7x7 conv.
    v1b_stem = 3 * 64 * 49 + 2 * 64
    v1c_stem = 3 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 2 * (32 + 32 + 64)
    expected = TORCHVISION_R101 - (2048 * 1000 + 1000) - v1b_stem + v1c_stem
    assert closed_form_params(101, ()) == expected == 42_519_392


@pytest.mark.parametrize('config, dilations', [('_base_/models/deeplabv2_r101v1c.py', (6, 12, 18, 24)),
                                               ('_base_/models/deeplabv2red_r101v1c.py', (6, 12))])
def test_deeplabv2_configs(config, dilations):
    model, cfg = build(config)
    assert sum(p.numel() for p in model.parameters()) == closed_form_params(101, dilations)
    assert model.decode_head.dilations == dilations
    backbone = cfg.model.backbone
    assert (backbone.dilations, backbone.strides, backbone.contract_dilation, backbone.norm_eval) == (
        (1, 1, 2, 4), (1, 2, 1, 1), True, False)
    assert backbone.pretrained == 'pretrained/resnet101_v1c-e67eebb6.pth'


def test_daformer_r101_and_uda_configs():
    model, _ = build('_base_/models/daformer_sepaspp_r101v1c.py')
    c, k = 256, [256, 512, 1024, 2048]
    daformer_head = (sum(k) * c + 4 * c  # embed_layers (Linear)
                     + 4 * c * c + 2 * c  # aspp 1x1 ConvModule + BN
                     + 3 * (4 * c * 9 + 2 * 4 * c + 4 * c * c + 2 * c)  # 3 depthwise-separable branches + BNs
                     + 4 * c * c * 9 + 2 * c  # bottleneck + BN
                     + c * 19 + 19)  # conv_seg
    assert sum(p.numel() for p in model.parameters()) == closed_form_params(101, ()) + daformer_head
    uda, cfg = build('daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_dlv2red_r101v1c.py')
    # Student, EMA teacher and the frozen ImageNet model for the feature distance.
    assert sum(p.numel() for p in uda.parameters()) == 3 * closed_form_params(101, (6, 12))
    assert cfg.model.imnet_feature_dist_lambda == 0.005 and cfg.model.alpha == 0.999


# ---------------------------------------------------------------------------------------------------------------
# Weights: ImageNet file and released DeepLabV2 checkpoint
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def r101_weights():
    return random_weights(resnet_v1c_keys(101), seed=1)


def test_imagenet_weights_load_weights_only_and_drop_the_classifier(tmp_path, r101_weights):
    path = tmp_path / 'resnet101_v1c-e67eebb6.pth'
    torch.save({'state_dict': dict(r101_weights, **{'fc.weight': torch.zeros(1000, 2048),
                                                    'fc.bias': torch.zeros(1000)})}, path)
    # As in training: the segmentor's init_weights reaches the backbone named in the config.
    model, _ = build('_base_/models/deeplabv2red_r101v1c.py', pretrained=str(path))
    model.init_weights()
    own = model.backbone.state_dict()
    assert own.keys() == r101_weights.keys()
    assert all(torch.equal(own[k], v) for k, v in r101_weights.items())


def small_file(tmp_path, sd, name='r50.pth'):
    path = tmp_path / name
    torch.save(sd, path)
    return str(path)


@pytest.fixture(scope='module')
def r50_weights():
    return random_weights(resnet_v1c_keys(50))


def test_imagenet_weights_errors_name_the_keys(tmp_path, r50_weights):
    def load(sd):
        CheckedResNetV1c(depth=50, pretrained=small_file(tmp_path, sd)).init_weights()

    missing = {k: v for k, v in r50_weights.items() if k != 'layer3.5.bn3.running_var'}
    with pytest.raises(UserError, match=r'r50\.pth does not fit ResNetV1c-50: 1 missing keys '
                                        r'\(layer3\.5\.bn3\.running_var\), 0 unexpected keys \(none\)'):
        load(missing)
    with pytest.raises(UserError, match=r'0 missing keys \(none\), 1 unexpected keys \(layer5\.0\.conv1\.weight\)'):
        load(dict(r50_weights, **{'layer5.0.conv1.weight': torch.zeros(1)}))
    with pytest.raises(UserError, match=r'stem\.0\.weight has shape \(32, 3, 7, 7\) in the checkpoint, '
                                        r'\(32, 3, 3, 3\) in the model'):
        load(dict(r50_weights, **{'stem.0.weight': torch.zeros(32, 3, 7, 7)}))
    with pytest.raises(UserError, match=r'\d+ missing keys \(layer3\.6\.conv1\.weight, '):
        CheckedResNetV1c(depth=101, pretrained=small_file(tmp_path, r50_weights)).init_weights()
    with pytest.raises(UserError, match='7x7 stem'):
        load({'conv1.weight': torch.zeros(64, 3, 7, 7), 'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1)})
    # Step counters are optional (old files lack them).
    load({k: v for k, v in r50_weights.items() if not k.endswith('num_batches_tracked')})


def test_imagenet_weights_bad_paths(tmp_path):
    with pytest.raises(UserError, match='download address; nothing is downloaded'):
        CheckedResNetV1c(depth=101, pretrained='open-mmlab://resnet101_v1c')
    with pytest.raises(UserError, match='checkpoint not found: .*nope.pth'):
        CheckedResNetV1c(depth=50, pretrained=str(tmp_path / 'nope.pth')).init_weights()


def test_released_deeplabv2_checkpoint_computes_the_original_function(tmp_path, r101_weights):
    dilations = (6, 12)
    head_sd = random_weights(dlv2_keys(dilations), seed=2)
    released = {f'backbone.{k}': v for k, v in r101_weights.items()}
    released |= {f'decode_head.{k}': v for k, v in head_sd.items()}
    path = tmp_path / 'dlv2red_r101v1c_source_only.pth'
    torch.save({'meta': {'iter': 40000, 'CLASSES': ('road',) * 19}, 'state_dict': released,
                'optimizer': {'state': {}, 'param_groups': [{'lr': 6e-5, 'params': []}]}}, path)
    model, _ = build('_base_/models/deeplabv2red_r101v1c.py', pretrained=None)
    assert load_segmentor_weights(model, str(path))['iter'] == 40000  # strict: no missing or unexpected key

    model.eval()
    # Odd sizes exercise the stem/pool padding: 37x30 -> 19x15 -> 10x8 (stride 4) -> 5x4 (stride 8).
    x = torch.randn(1, 3, 37, 30, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        feats = model.extract_feat(x)
        expected_feats = ref_resnet_v1c(x, r101_weights)
        logits = model.decode_head(feats)
    assert [f.shape[1:] for f in feats] == [(256, 10, 8), (512, 5, 4), (1024, 5, 4), (2048, 5, 4)]
    for out, ref in zip(feats, expected_feats):
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    expected = ref_dlv2(expected_feats[3], head_sd, dilations)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert expected.abs().max() < 1e3 and expected.std() > 1e-2  # a meaningful, finite comparison
