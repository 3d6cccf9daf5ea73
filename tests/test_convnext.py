"""ConvNeXt backbone: parameter counts against a closed-form count and the paper's figures, the key table on
files written in each release layout, the loaded encoder against a plain-functional reference forward written
from the file's tensors, and one clear line for each loading mistake."""
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from daseg.errors import UserError
from daseg.models.backbones.convnext import ConvNeXt
from daseg.weights.convnext_keys import convnext_state_dict

# Liu et al. 2022, Sec. 2.7: blocks per stage and stage widths; Table 1 / Appendix: #params (M) of the
# ImageNet-1k classifiers.
PAPER = {
    'tiny': ((3, 3, 9, 3), (96, 192, 384, 768), 28.6),
    'small': ((3, 3, 27, 3), (96, 192, 384, 768), 50.2),
    'base': ((3, 3, 27, 3), (128, 256, 512, 1024), 88.6),
    'large': ((3, 3, 27, 3), (192, 384, 768, 1536), 197.8),
}
SMALL = dict(depths=[1, 2, 1, 1], channels=[8, 12, 16, 24])
EPS = 1e-6
HEAD_CLASSES = 10

pytestmark = pytest.mark.usefixtures('one_thread')


# ---------------------------------------------------------------------------------------------------------------
# Closed-form parameter count
# ---------------------------------------------------------------------------------------------------------------

def classifier_parameters(depths, channels, classes=1000):
    """Parameters of the ImageNet ConvNeXt classifier, counted layer by layer from the architecture."""
    c = channels
    count = 3 * 4 * 4 * c[0] + c[0] + 2 * c[0]                      # stem: 4x4 conv + LayerNorm
    for i in range(1, len(c)):
        count += 2 * c[i - 1] + c[i - 1] * c[i] * 2 * 2 + c[i]       # LayerNorm + 2x2 conv
    for depth, ch in zip(depths, c):
        # 7x7 depthwise conv, LayerNorm, Linear C->4C, Linear 4C->C, layer scale
        block = (49 * ch + ch) + 2 * ch + (4 * ch * ch + 4 * ch) + (4 * ch * ch + ch) + ch
        count += depth * block
    return count + 2 * c[-1] + classes * c[-1] + classes              # final norm + fc


@pytest.mark.parametrize('arch', list(PAPER))
def test_parameter_count_matches_closed_form_and_paper(arch):
    depths, channels, published = PAPER[arch]
    with torch.device('meta'):
        model = ConvNeXt(arch=arch)
    built = sum(p.numel() for p in model.parameters())
    classifier = classifier_parameters(depths, channels)
    # The backbone has a LayerNorm on each of its four outputs instead of the classifier's final norm and fc.
    assert built == classifier - (2 * channels[-1] + 1000 * channels[-1] + 1000) + sum(2 * c for c in channels)
    assert round(classifier / 1e6, 1) == published
    assert model.out_channels == list(channels)


# ---------------------------------------------------------------------------------------------------------------
# Files in each release layout, written from the architecture
# ---------------------------------------------------------------------------------------------------------------

def random_weights(depths, channels, seed=0):
    """The tensors of a ConvNeXt by role, random (LayerNorm weights near 1)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, around=0.):
        return around + 0.2 * torch.randn(*shape, generator=g)

    c = channels
    return {
        'stem': (r(c[0], 3, 4, 4), r(c[0])), 'stem_norm': (r(c[0], around=1), r(c[0])),
        'down': [None] + [(r(c[i - 1], around=1), r(c[i - 1]), r(c[i], c[i - 1], 2, 2), r(c[i]))
                          for i in range(1, len(c))],
        'blocks': [[dict(dw=(r(ch, 1, 7, 7), r(ch)), norm=(r(ch, around=1), r(ch)), fc1=(r(4 * ch, ch), r(4 * ch)),
                         fc2=(r(ch, 4 * ch), r(ch)), gamma=r(ch, around=0.5)) for _ in range(d)]
                   for d, ch in zip(depths, c)],
        'norms': [(r(ch, around=1), r(ch)) for ch in c],
        'head': (r(HEAD_CLASSES, c[-1]), r(HEAD_CLASSES)),
    }


BLOCK_NAMES = {
    'official': dict(dw='dwconv', norm='norm', fc1='pwconv1', fc2='pwconv2'),
    'mmcls': dict(dw='depthwise_conv', norm='norm', fc1='pointwise_conv1', fc2='pointwise_conv2'),
}


def encoder_keys(w, names, norms):
    """Stem, downsampling layers and blocks under ``names``, plus ``norm{i}`` for i in ``norms``."""
    sd = {'downsample_layers.0.0.weight': w['stem'][0], 'downsample_layers.0.0.bias': w['stem'][1],
          'downsample_layers.0.1.weight': w['stem_norm'][0], 'downsample_layers.0.1.bias': w['stem_norm'][1]}
    for i, blocks in enumerate(w['blocks']):
        if i:
            ln_w, ln_b, conv_w, conv_b = w['down'][i]
            sd |= {f'downsample_layers.{i}.0.weight': ln_w, f'downsample_layers.{i}.0.bias': ln_b,
                   f'downsample_layers.{i}.1.weight': conv_w, f'downsample_layers.{i}.1.bias': conv_b}
        for j, block in enumerate(blocks):
            for role in ('dw', 'norm', 'fc1', 'fc2'):
                sd[f'stages.{i}.{j}.{names[role]}.weight'], sd[f'stages.{i}.{j}.{names[role]}.bias'] = block[role]
            sd[f'stages.{i}.{j}.gamma'] = block['gamma']
    for i in norms:
        sd[f'norm{i}.weight'], sd[f'norm{i}.bias'] = w['norms'][i]
    return sd


def official_file(w):
    """facebookresearch ConvNeXt release: ``{'model': ...}``, final ``norm`` and ``head``."""
    sd = encoder_keys(w, BLOCK_NAMES['official'], norms=())
    sd['norm.weight'], sd['norm.bias'] = w['norms'][-1]
    sd['head.weight'], sd['head.bias'] = w['head']
    return {'model': sd}


def mmcls_file(w, module_prefix=''):
    """mmcls / mmpretrain classifier: ``backbone.`` encoder with the last stage's norm, ``head.fc``."""
    last = len(w['blocks']) - 1
    sd = {f'{module_prefix}backbone.{k}': v for k, v in encoder_keys(w, BLOCK_NAMES['mmcls'], (last,)).items()}
    sd[f'{module_prefix}head.fc.weight'], sd[f'{module_prefix}head.fc.bias'] = w['head']
    return {'meta': {'mmcls_version': '0.21.0'}, 'state_dict': sd}


def converted_file(w):
    return encoder_keys(w, BLOCK_NAMES['mmcls'], norms=range(len(w['blocks'])))


def channel_norm(x, weight_bias):
    """LayerNorm over dim 1 of (B, C, H, W), written out."""
    weight, bias = weight_bias
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS) * weight[:, None, None] + bias[:, None, None]


def reference_forward(w, x, norms):
    """The ConvNeXt function in channels-first form (pointwise Linears as 1x1 convs); ``norms[i]`` is the
    (weight, bias) of stage i's output norm."""
    x = channel_norm(F.conv2d(x, *w['stem'], stride=4), w['stem_norm'])
    outs = []
    for i, blocks in enumerate(w['blocks']):
        if i:
            ln_w, ln_b, conv_w, conv_b = w['down'][i]
            x = F.conv2d(channel_norm(x, (ln_w, ln_b)), conv_w, conv_b, stride=2)
        for b in blocks:
            y = channel_norm(F.conv2d(x, *b['dw'], padding=3, groups=x.shape[1]), b['norm'])
            y = F.gelu(F.conv2d(y, b['fc1'][0][:, :, None, None], b['fc1'][1]))
            y = F.conv2d(y, b['fc2'][0][:, :, None, None], b['fc2'][1])
            x = x + b['gamma'][:, None, None] * y
        outs.append(channel_norm(x, norms[i]))
    return outs


def load(path, arch=SMALL, **kwargs):
    model = ConvNeXt(arch=arch, pretrained=str(path), **kwargs)
    with mock.patch('daseg.models.backbones.convnext.print_log') as log:
        model.init_weights()
    assert log.call_count == 1
    return model.eval(), log.call_args[0][0]


@pytest.mark.parametrize('layout', ['official', 'mmcls', 'mmcls_module', 'converted'])
def test_each_layout_lands_in_place_and_computes_the_reference(tmp_path, layout):
    w = random_weights(**SMALL)
    file = {'official': official_file, 'mmcls': mmcls_file, 'mmcls_module': lambda w: mmcls_file(w, 'module.'),
            'converted': converted_file}[layout](w)
    stored = range(4) if layout == 'converted' else (3,)
    converted = convnext_state_dict(file, source='f.pth')
    expected = encoder_keys(w, BLOCK_NAMES['mmcls'], stored)
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[k], v) for k, v in expected.items())

    path = tmp_path / 'convnext.pth'
    torch.save(file, path)
    model, line = load(path)
    identity = [(torch.ones(c), torch.zeros(c)) for c in SMALL['channels']]
    norms = [w['norms'][i] if i in stored else identity[i] for i in range(4)]
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        got = model(x)
    for out, ref, c, s in zip(got, reference_forward(w, x, norms), SMALL['channels'], (4, 8, 16, 32)):
        assert out.shape == (2, c, 64 // s, 96 // s)
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    if layout == 'converted':
        assert line.endswith('; 0 initialised, not loaded: none; 0 dropped: none')
    else:
        head = 'head.weight, head.bias' if layout == 'official' else 'head.fc.weight, head.fc.bias'
        assert line.endswith('; 6 initialised, not loaded: norm0.weight, norm0.bias, norm1.weight, norm1.bias, '
                             f'norm2.weight, norm2.bias; 2 dropped: {head}')


def test_output_norm_of_a_stage_not_returned_is_dropped(tmp_path):
    w = random_weights(**SMALL)
    path = tmp_path / 'convnext.pth'
    torch.save(converted_file(w), path)
    model, line = load(path, out_indices=(0, 1, 2))
    assert line.endswith('2 dropped: norm3.weight, norm3.bias')
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for out, ref in zip(model(x), reference_forward(w, x, w['norms'])[:3], strict=True):
            torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Training behaviour
# ---------------------------------------------------------------------------------------------------------------

def test_forward_backward():
    torch.manual_seed(0)
    # Drop path low enough that no block is dropped for the whole batch (its gradient would be zero).
    model = ConvNeXt(arch=SMALL, drop_path_rate=0.1, layer_scale_init_value=1.0)
    model.init_weights()
    x = torch.randn(4, 3, 32, 32)
    outs = model.train()(x)
    assert [o.shape for o in outs] == [(4, c, 32 // s, 32 // s) for c, s in zip(SMALL['channels'], (4, 8, 16, 32))]
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_drop_path_rises_linearly_and_is_off_in_eval():
    torch.manual_seed(0)
    model = ConvNeXt(arch=SMALL, drop_path_rate=0.5, layer_scale_init_value=1.0)
    model.init_weights()
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for stage in model.stages for b in stage]
    assert rates == pytest.approx([0.5 * k / 4 for k in range(5)])
    plain = ConvNeXt(arch=SMALL, layer_scale_init_value=1.0)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        evaluated, again, reference = model.eval()(x), model(x), plain.eval()(x)
        trained = model.train()(x)
    assert all(torch.equal(a, b) and torch.equal(a, r) for a, b, r in zip(evaluated, again, reference))
    assert not torch.allclose(trained[-1], evaluated[-1])


def test_channels_last_and_compile_without_graph_breaks():
    torch.manual_seed(0)
    model = ConvNeXt(arch=SMALL).eval()
    model.init_weights()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        compiled = torch.compile(model, backend='eager', fullgraph=True)(x)
        last = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    for r, c, cl in zip(ref, compiled, last):
        torch.testing.assert_close(c, r)
        torch.testing.assert_close(cl, r, atol=1e-5, rtol=1e-5)
        assert cl.is_contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------------------------------------------------
# Mistakes: one line each
# ---------------------------------------------------------------------------------------------------------------

def error_of(path, **kwargs):
    with pytest.raises(UserError) as info:
        load(path, **kwargs)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_a_swin_file_is_refused(tmp_path):
    path = tmp_path / 'swin_base.pth'
    torch.save({'state_dict': {'backbone.patch_embed.projection.weight': torch.zeros(128, 3, 4, 4),
                               'backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table':
                                   torch.zeros(169, 4)}}, path)
    assert 'swin_base.pth holds no ConvNeXt weights' in error_of(path)


def test_a_missing_block_is_named(tmp_path):
    sd = {k: v for k, v in converted_file(random_weights(**SMALL)).items() if not k.startswith('stages.1.1.')}
    path = tmp_path / 'short.pth'
    torch.save(sd, path)
    message = error_of(path)
    assert 'short.pth does not fit ConvNeXt-custom: 9 missing keys (stages.1.1.' in message


def test_another_variant_is_named_by_shape(tmp_path):
    path = tmp_path / 'wide.pth'
    torch.save(mmcls_file(random_weights(SMALL['depths'], [8, 12, 16, 32])), path)
    message = error_of(path)
    assert message.endswith('/wide.pth does not fit ConvNeXt-custom: downsample_layers.3.1.weight has shape '
                            '(32, 16, 2, 2) in the checkpoint, (24, 16, 2, 2) in the model')


def test_convnext_v2_file_is_refused(tmp_path):
    sd = converted_file(random_weights(**SMALL)) | {'stages.0.0.grn.gamma': torch.zeros(1, 1, 1, 32)}
    path = tmp_path / 'v2.pth'
    torch.save(sd, path)
    assert 'ConvNeXt V2' in error_of(path)


@pytest.mark.parametrize('kwargs, words', [
    (dict(pretrained='https://download.openmmlab.com/convnext-base.pth'), 'download address'),
    (dict(pretrained='a.pth', init_cfg=dict(type='Normal')), 'either pretrained or init_cfg'),
    (dict(init_cfg=dict(type='Pretrained', checkpoint='a.pth', prefix='backbone.')), "give the file as pretrained='a.pth'"),
    (dict(gap_before_final_norm=True), 'gap_before_final_norm=False'),
    (dict(arch='huge'), "unknown ConvNeXt arch 'huge'"),
    (dict(out_indices=(4,)), 'out_indices'),
])
def test_bad_options_are_refused(kwargs, words):
    with pytest.raises(UserError, match=words):
        ConvNeXt(**{'arch': SMALL, **kwargs})
