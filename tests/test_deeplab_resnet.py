"""The original DeepLab-v2 ResNet (AdaptSegNet's deeplab.py, as union-set uses it): DeepLabResNet + DLV2Head with
the original's weights compute the original's function (checked against a second implementation written here
from the description in reference/ORIGINALS_2.md), and the original's files load through the key tables."""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

import daseg.weights.encoder_keys as encoder_keys
from daseg.errors import UserError
from daseg.models.backbones import DeepLabResNet
from daseg.models.decode_heads.dlv2_head import DLV2Head
from daseg.weights import convert_released_state_dict, load_segmentor_weights

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / 'configs/_base_/models/deeplabv2_r101_deeplab_init.py'
BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
K = 5  # classes of the test segmentors
# The conv1 output of a 63 x 95 input is 32 x 48 (even): a max pool that rounds down gives 16 x 24, the original
# 17 x 25, so the two differ in every later map.
SMALL = (63, 95)

pytestmark = pytest.mark.usefixtures('one_thread')


# ---------------------------------------------------------------------------------------------------------------
# The original network, written from its description: modules under the original's names.
# ---------------------------------------------------------------------------------------------------------------

class RefBottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride, dilation):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)  # the stride on the 1x1
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.downsample = None
        if stride != 1 or inplanes != 4 * planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, 4 * planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class RefClassifier(nn.Module):
    def __init__(self, rates, num_classes):
        super().__init__()
        self.conv2d_list = nn.ModuleList(nn.Conv2d(2048, num_classes, 3, padding=r, dilation=r) for r in rates)

    def forward(self, x):
        out = self.conv2d_list[0](x)
        for i in range(len(self.conv2d_list) - 1):
            out = out + self.conv2d_list[i + 1](x)
            return out  # as the original: inside the loop, so only the rates 6 and 12 count


class RefDeepLab(nn.Module):
    def __init__(self, depth=101, num_classes=K):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        inplanes = 64
        for i, (n, stride, dilation) in enumerate(zip(BLOCKS[depth], (1, 2, 1, 1), (1, 1, 2, 4)), 1):
            planes = 64 * 2 ** (i - 1)
            blocks = [RefBottleneck(inplanes, planes, stride, dilation)]
            blocks += [RefBottleneck(4 * planes, planes, 1, dilation) for _ in range(n - 1)]
            setattr(self, f'layer{i}', nn.Sequential(*blocks))
            inplanes = 4 * planes
        self.layer5 = RefClassifier((6, 12, 18, 24), num_classes)

    def features(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.layer5(self.features(x))


def randomise(model, seed=0):
    """Values that keep a deep random network finite: He-scaled convs, BN near identity, damped residuals."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d):
                damp = 0.2 if name.endswith('bn3') else 1.0
                m.weight.copy_(damp * (0.5 + 0.5 * torch.rand(m.weight.shape, generator=g)))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(11)
    return model


@pytest.fixture(scope='module')
def reference():
    return randomise(RefDeepLab(101))


def segmentor(depth=101, in_channels=2048):
    init_default_scope('mmseg')
    return EncoderDecoder(
        backbone=dict(type='DeepLabResNet', depth=depth),
        decode_head=dict(type='DLV2Head', in_channels=in_channels, in_index=3, dilations=(6, 12), num_classes=K,
                         align_corners=True))


def reference_logits(ref, x):
    """The original's prediction: its 1/8 logits resized bilinearly (align_corners=True) to the input."""
    return F.interpolate(ref(x), size=x.shape[2:], mode='bilinear', align_corners=True)


def predict(model, x):
    return model.encode_decode(x, [dict(img_shape=tuple(x.shape[2:]))])


# ---------------------------------------------------------------------------------------------------------------
# (a) the same function as the original
# ---------------------------------------------------------------------------------------------------------------

def test_converted_original_computes_the_original_function_in_eval_and_train_mode(reference):
    conversion = convert_released_state_dict(reference.state_dict())
    model = segmentor()
    model.load_state_dict(conversion.state_dict, strict=True)
    x = torch.randn(1, 3, *SMALL, generator=torch.Generator().manual_seed(1))
    saved = {k: v.clone() for k, v in reference.state_dict().items()}
    reference.eval()
    model.eval()
    with torch.no_grad():
        expected = reference_logits(reference, x)
        torch.testing.assert_close(predict(model, x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max())
        assert expected.std() > 0.1  # the logits carry signal, not a constant
    # BN in train mode (union-set): batch-1 statistics, the running statistics updated alike.
    reference.train()
    model.train()
    with torch.no_grad():
        expected = reference_logits(reference, x)
        torch.testing.assert_close(predict(model, x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max())
    torch.testing.assert_close(model.backbone.layer4[2].bn3.running_var, reference.layer4[2].bn3.running_var)
    reference.load_state_dict(saved)  # undo the statistics update, for the other tests


@pytest.mark.parametrize('depth', [50, 101, 152])
def test_every_conv_and_pool_has_the_original_geometry(depth):
    def geometry(model):
        out = {}
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                out[name] = (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                             m.bias is not None)
            elif isinstance(m, nn.BatchNorm2d):
                out[name] = (m.num_features, m.eps, m.momentum, m.affine)
            elif isinstance(m, nn.MaxPool2d):
                out[name] = (m.kernel_size, m.stride, m.padding, m.ceil_mode)
        return out

    with torch.device('meta'):
        ours, ref = DeepLabResNet(depth=depth), RefDeepLab(depth)
    ref_geometry = {k: v for k, v in geometry(ref).items() if not k.startswith('layer5')}
    assert geometry(ours) == ref_geometry
    assert all(p.requires_grad for p in ours.parameters())  # BN affine parameters are trained


# ---------------------------------------------------------------------------------------------------------------
# (b) shapes
# ---------------------------------------------------------------------------------------------------------------

def test_a_512x1024_input_gives_65x129_maps_because_the_pool_rounds_up():
    with torch.device('meta'):
        backbone = DeepLabResNet(depth=101)
        outs = backbone(torch.empty(1, 3, 512, 1024))
        assert [tuple(o.shape) for o in outs] == [(1, 256, 129, 257), (1, 512, 65, 129), (1, 1024, 65, 129),
                                                  (1, 2048, 65, 129)]
        backbone.maxpool = nn.MaxPool2d(3, stride=2, padding=1)  # rounding down would give 64 x 128
        assert tuple(backbone(torch.empty(1, 3, 512, 1024))[-1].shape) == (1, 2048, 64, 128)
    head = DLV2Head(in_channels=2048, in_index=3, dilations=(6, 12), num_classes=19, align_corners=True)
    assert tuple(head([torch.zeros(1, 8, 1, 1)] * 3 + [torch.zeros(1, 2048, 65, 129)]).shape) == (1, 19, 65, 129)


def test_basic_block_depths_for_demos_run_forward_and_backward():
    torch.manual_seed(0)
    model = DeepLabResNet(depth=18)
    model.init_weights()
    outs = model(torch.randn(2, 3, *SMALL))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 17, 25), (128, 9, 13), (256, 9, 13), (512, 9, 13)]
    outs[-1].square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_arguments_that_would_change_the_original_are_refused():
    with pytest.raises(UserError, match='depth must be one of'):
        DeepLabResNet(depth=77)
    with pytest.raises(UserError, match='deep_stem is fixed to False'):
        DeepLabResNet(depth=18, deep_stem=True)
    with pytest.raises(UserError, match='is a download address'):
        DeepLabResNet(depth=18, pretrained='https://example.org/DeepLab_init.pth')


# ---------------------------------------------------------------------------------------------------------------
# (c) DeepLab_init.pth and other files as pretrained backbone weights
# ---------------------------------------------------------------------------------------------------------------

def init_file(reference):
    """DeepLab_init.pth as AdaptSegNet has it: every key under ``Scale.``, a 21-class layer5, no step counters."""
    sd = {k: v for k, v in reference.state_dict().items()
          if not k.startswith('layer5.') and not k.endswith('num_batches_tracked')}
    for j in range(4):
        sd[f'layer5.conv2d_list.{j}.weight'] = torch.randn(21, 2048, 3, 3)
        sd[f'layer5.conv2d_list.{j}.bias'] = torch.randn(21)
    return {f'Scale.{k}': v for k, v in sd.items()}


def load_logged(model, monkeypatch):
    lines = []
    monkeypatch.setattr(encoder_keys, 'print_log', lambda line, logger=None: lines.append(line))
    model.init_weights()
    return lines


def test_deeplab_init_loads_strictly_and_reports_layer5_dropped(reference, tmp_path, monkeypatch):
    path = tmp_path / 'DeepLab_init.pth'
    file = init_file(reference)
    assert file['Scale.layer5.conv2d_list.3.weight'].shape == (21, 2048, 3, 3)
    torch.save(file, path)
    model = DeepLabResNet(depth=101, pretrained=str(path))
    lines = load_logged(model, monkeypatch)
    assert len(lines) == 1 and '\n' not in lines[0]
    assert 'initialised, not loaded: none' in lines[0]
    assert 'dropped: Scale.layer5.conv2d_list.*.weight (4), Scale.layer5.conv2d_list.*.bias (4)' in lines[0]
    own = model.state_dict()
    for key, value in reference.state_dict().items():
        if not key.startswith('layer5.') and not key.endswith('num_batches_tracked'):
            assert torch.equal(own[key], value), key
    model.eval()
    reference.eval()
    x = torch.randn(1, 3, *SMALL)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[-1], reference.features(x))
    # An original segmentor (union-set's gta_80000.pth, bare keys) as initial weights: its layer5 dropped too.
    torch.save(reference.state_dict(), path)
    lines = load_logged(DeepLabResNet(depth=101, pretrained=str(path)), monkeypatch)
    assert 'dropped: layer5.conv2d_list.*.weight (4), layer5.conv2d_list.*.bias (4)' in lines[0]


def test_own_segmentor_and_bare_backbone_files_load(tmp_path, monkeypatch):
    model = segmentor(depth=18, in_channels=512)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'segmentor.pth')
    torch.save(model.backbone.state_dict(), tmp_path / 'bare.pth')
    for name, dropped in (('segmentor.pth', 'dropped: decode_head.aspp_modules.*.conv.weight (2)'),
                          ('bare.pth', 'dropped: none')):
        loaded = DeepLabResNet(depth=18, pretrained=str(tmp_path / name))
        lines = load_logged(loaded, monkeypatch)
        assert dropped in lines[-1]
        for key, value in model.backbone.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), (name, key)


def test_wrong_files_are_refused_in_one_line(reference, tmp_path):
    def refused(file, pattern, depth=101):
        path = tmp_path / 'weights.pth'
        torch.save(file, path)
        with pytest.raises(UserError, match=pattern) as error:
            DeepLabResNet(depth=depth, pretrained=str(path)).init_weights()
        assert '\n' not in str(error.value) and str(path) in str(error.value)

    missing = init_file(reference)
    del missing['Scale.layer3.22.bn3.running_var']
    refused(missing, r'weights\.pth does not fit DeepLabResNet-101: 1 missing keys \(layer3\.22\.bn3\.running_var\)')
    refused(init_file(reference), r'does not fit DeepLabResNet-50: 0 missing keys \(none\), \d+ unexpected keys '
                                  r'\(layer3\.6\.', depth=50)
    v1c = {'stem.0.weight': torch.zeros(32, 3, 3, 3), 'stem.1.weight': torch.ones(32),
           'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1), 'fc.weight': torch.zeros(1000, 2048)}
    refused({'state_dict': v1c}, r'holds a ResNet-V1c \(three-conv stem, stem\.0\.weight\); DeepLabResNet needs '
                                 r'the 7x7-stem layout')
    swin = {'patch_embed.proj.weight': torch.zeros(128, 3, 4, 4),
            'layers.0.blocks.0.attn.qkv.weight': torch.zeros(384, 128), 'head.weight': torch.zeros(1000, 1024)}
    refused({'model': swin}, r'holds Swin weights; DeepLabResNet needs the 7x7-stem layout')
    refused({'x': torch.zeros(1)}, r'holds no ResNet weights \(first keys: x\)')


# ---------------------------------------------------------------------------------------------------------------
# (d) union-set's per-source checkpoints through the one conversion function
# ---------------------------------------------------------------------------------------------------------------

def expected_keys(reference):
    keys = {f'backbone.{k}' for k in reference.state_dict() if not k.startswith('layer5.')}
    return keys | {f'decode_head.aspp_modules.{j}.conv.{p}' for j in (0, 1) for p in ('weight', 'bias')}


def test_per_source_checkpoint_converts_with_a_note_on_the_dropped_convs(reference):
    original = {f'module.{k}': v for k, v in reference.state_dict().items()}
    conversion = convert_released_state_dict(original)
    assert set(conversion.state_dict) == expected_keys(reference)
    sd = conversion.state_dict
    assert torch.equal(sd['decode_head.aspp_modules.1.conv.weight'], reference.layer5.conv2d_list[1].weight)
    assert torch.equal(sd['backbone.layer3.0.downsample.1.running_var'], reference.layer3[0].downsample[1].running_var)
    assert any('dropped layer5.conv2d_list.2.weight, layer5.conv2d_list.2.bias, layer5.conv2d_list.3.weight, '
               'layer5.conv2d_list.3.bias (4 tensors)' in note and 'never uses' in note
               for note in conversion.notes)
    assert conversion.converted == []
    # Files of torch < 0.4.1 have no BN step counters: they are added (and said).
    old = {k: v for k, v in original.items() if not k.endswith('num_batches_tracked')}
    conversion = convert_released_state_dict(old)
    assert set(conversion.state_dict) == expected_keys(reference)
    assert int(conversion.state_dict['backbone.bn1.num_batches_tracked']) == 0
    assert any('104 BN step counters' in note for note in conversion.notes)
    # This project's own layout is left as it is.
    assert convert_released_state_dict(conversion.state_dict).notes == []


def test_unknown_key_of_an_original_segmentor_is_named(reference):
    sd = dict(reference.state_dict(), **{'layer6.weight': torch.zeros(1)})
    with pytest.raises(UserError, match=r'layer6\.weight is no key of the original DeepLab-v2 layout'):
        convert_released_state_dict(sd)


@pytest.mark.parametrize('wrapped', [False, True])
def test_per_source_checkpoint_file_loads_into_the_segmentor(reference, tmp_path, wrapped):
    original = {f'module.{k}': v for k, v in reference.state_dict().items()}
    path = tmp_path / 'gta_80000.pth'
    torch.save({'state_dict': original} if wrapped else original, path)
    model = segmentor()
    assert load_segmentor_weights(model, str(path)) == {}
    model.eval()
    reference.eval()
    x = torch.randn(1, 3, *SMALL)
    with torch.no_grad():
        expected = reference_logits(reference, x)
        torch.testing.assert_close(predict(model, x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max())


# ---------------------------------------------------------------------------------------------------------------
# The base config's variables
# ---------------------------------------------------------------------------------------------------------------

def compose(tmp_path, bases):
    """A config composing the variables into a model, over ``bases``."""
    path = tmp_path / f'union_{len(bases)}.py'
    path.write_text(f"_base_ = {[str(b) for b in bases] + [str(BASE)]!r}\n"
                    "model = dict(type='EncoderDecoder', backbone={{_base_.deeplab_r101}}, "
                    "decode_head={{_base_.dlv2red_head}})\n")
    return Config.fromfile(str(path)).model


def test_config_variables_build_alone_and_over_the_resnet_v1c_base(tmp_path):
    alone = compose(tmp_path, [])
    over = compose(tmp_path, [ROOT / 'configs/_base_/models/deeplabv2_r101v1c.py'])
    backbone, head = alone.backbone, alone.decode_head
    assert backbone.type == 'DeepLabResNet' and backbone.pretrained == 'pretrained/DeepLab_init.pth'
    assert head.dilations == (6, 12) and head.align_corners and head.in_index == backbone.out_indices[-1] == 3
    # Over the V1c base every argument it sets is replaced (its num_stages 4 is DeepLabResNet's own).
    assert dict(over.backbone) == dict(backbone, num_stages=4) and over.decode_head == head
    init_default_scope('mmseg')
    built = MODELS.build(dict(alone, backbone=dict(backbone, depth=18, pretrained=None),
                              decode_head=dict(head, in_channels=512)))
    assert tuple(predict(built.eval(), torch.zeros(1, 3, *SMALL)).shape) == (1, 19, *SMALL)
