"""MiT backbone: sizes, shapes, and weight loading checked against an independent original-layout implementation."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from daseg.errors import UserError
from daseg.models.backbones.mit import ARCH_SETTINGS, MiT, arch_out_channels, detect_arch
from daseg.weights.mit_keys import (convert_mit_state_dict, convert_segmentor_state_dict,
                                                detect_layout, mmseg_to_original)

DEPTHS = {'b0': [2, 2, 2, 2], 'b1': [2, 2, 2, 2], 'b2': [3, 4, 6, 3], 'b3': [3, 4, 18, 3], 'b4': [3, 8, 27, 3],
          'b5': [3, 6, 40, 3]}
WIDTHS = {arch: [32, 64, 160, 256] if arch == 'b0' else [64, 128, 320, 512] for arch in DEPTHS}


# ---------------------------------------------------------------------------------------------------------------
# Reference: the original SegFormer MiT forward, written from the paper/original structure with its key names.
# ---------------------------------------------------------------------------------------------------------------

class RefAttention(nn.Module):
    def __init__(self, dim, heads, sr_ratio):
        super().__init__()
        self.heads, self.sr_ratio = heads, sr_ratio
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(dim)  # default eps 1e-5, as in the original

    def forward(self, x, h, w):
        b, n, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, d).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x = self.norm(self.sr(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2))
        k, v = self.kv(x).reshape(b, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * d ** -0.5).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class RefMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.ModuleDict({'dwconv': nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)})
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, h, w):
        x = self.fc1(x)
        b, n, c = x.shape
        x = self.dwconv['dwconv'](x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class RefBlock(nn.Module):
    def __init__(self, dim, heads, sr_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RefAttention(dim, heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = RefMlp(dim, 4 * dim)

    def forward(self, x, h, w):
        x = x + self.attn(self.norm1(x), h, w)
        return x + self.mlp(self.norm2(x), h, w)


class RefPatchEmbed(nn.Module):
    def __init__(self, in_ch, dim, kernel, stride):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, kernel, stride, kernel // 2)
        self.norm = nn.LayerNorm(dim)  # default eps 1e-5, as in the original

    def forward(self, x):
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class RefMiT(nn.Module):
    def __init__(self, arch):
        super().__init__()
        in_ch = 3
        for s, (dim, depth, heads, sr) in enumerate(zip(WIDTHS[arch], DEPTHS[arch], [1, 2, 5, 8], [8, 4, 2, 1]), 1):
            setattr(self, f'patch_embed{s}', RefPatchEmbed(in_ch, dim, 7 if s == 1 else 3, 4 if s == 1 else 2))
            setattr(self, f'block{s}', nn.ModuleList(RefBlock(dim, heads, sr) for _ in range(depth)))
            setattr(self, f'norm{s}', nn.LayerNorm(dim, eps=1e-6))
            in_ch = dim

    def forward(self, x):
        outs = []
        for s in range(1, 5):
            x, h, w = getattr(self, f'patch_embed{s}')(x)
            for block in getattr(self, f'block{s}'):
                x = block(x, h, w)
            x = getattr(self, f'norm{s}')(x)
            x = x.transpose(1, 2).reshape(x.shape[0], -1, h, w)
            outs.append(x)
        return outs


def random_reference(arch='b0', seed=0):
    torch.manual_seed(seed)
    ref = RefMiT(arch).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            # Random norms/biases too, so that a swapped norm or bias cannot go unnoticed.
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() == 1 else 1.0 / p[0].numel() ** 0.5))
        # Without a stem bias a low-contrast image gives near-constant tokens, whose LayerNorm depends on eps.
        ref.patch_embed1.proj.bias.zero_()
    return ref


def to_hf_layout(original):
    """Rename original keys to HuggingFace ``nvidia/mit-bX`` ones (independent of the code under test)."""
    out = {'classifier.weight': torch.zeros(1000, 1), 'classifier.bias': torch.zeros(1000)}
    renames = [('attn.q.', 'attention.self.query.'), ('attn.proj.', 'attention.output.dense.'),
               ('attn.sr.', 'attention.self.sr.'), ('attn.norm.', 'attention.self.layer_norm.'),
               ('norm1.', 'layer_norm_1.'), ('norm2.', 'layer_norm_2.'), ('mlp.fc1.', 'mlp.dense1.'),
               ('mlp.fc2.', 'mlp.dense2.')]
    for key, value in original.items():
        head, rest = key.split('.', 1)
        stage = int(head[-1]) - 1
        if head.startswith('patch_embed'):
            out[f'segformer.encoder.patch_embeddings.{stage}.{rest.replace("norm.", "layer_norm.")}'] = value
        elif head.startswith('norm'):
            out[f'segformer.encoder.layer_norm.{stage}.{rest}'] = value
        else:
            j, rest = rest.split('.', 1)
            prefix = f'segformer.encoder.block.{stage}.{j}.'
            if rest.startswith('attn.kv.'):
                k, v = value.chunk(2, dim=0)
                out[prefix + rest.replace('attn.kv.', 'attention.self.key.')] = k
                out[prefix + rest.replace('attn.kv.', 'attention.self.value.')] = v
                continue
            for old, new in renames:
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            out[prefix + rest] = value
    return out


def closed_form_params(arch):
    """Parameter count of the original MiT, summed layer by layer."""
    total, in_ch = 0, 3
    for s, (c, depth, sr) in enumerate(zip(WIDTHS[arch], DEPTHS[arch], [8, 4, 2, 1])):
        k = 7 if s == 0 else 3
        total += in_ch * c * k * k + c + 2 * c  # patch embed conv + its LayerNorm
        block = (2 * c  # norm1
                 + c * c + c + 2 * c * c + 2 * c + c * c + c  # q, kv, proj
                 + ((c * c * sr * sr + c + 2 * c) if sr > 1 else 0)  # sr conv + its LayerNorm
                 + 2 * c  # norm2
                 + c * 4 * c + 4 * c + 4 * c * 9 + 4 * c + 4 * c * c + c)  # fc1, dwconv, fc2
        total += depth * block + 2 * c  # blocks + stage norm
        in_ch = c
    return total


# SegFormer paper, Table 1: encoder parameters in millions, rounded to 0.1M.
PUBLISHED_ENCODER_M = {'b0': 3.4, 'b1': 13.1, 'b2': 24.2, 'b3': 44.0, 'b4': 60.8, 'b5': 81.4}


@pytest.mark.parametrize('arch', list(ARCH_SETTINGS))
def test_parameter_count(arch):
    model = MiT(arch=arch)
    n = sum(p.numel() for p in model.parameters())
    assert n == closed_form_params(arch)
    # The published sizes are rounded to 0.1M (b0's 3.4 is our 3.32M rounded up); the 13.7/24.7/82.0M figures
    # quoted for b1/b2/b5 elsewhere include the 1000-class ImageNet classifier (C4 * 1000 + 1000 parameters).
    assert abs(n / 1e6 - PUBLISHED_ENCODER_M[arch]) <= 0.1
    assert model.out_channels == arch_out_channels(arch) == WIDTHS[arch]


def test_output_shapes_and_strides():
    model = MiT(arch='b0').eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, c, 64 // s, 96 // s) for c, s in zip(WIDTHS['b0'], [4, 8, 16, 32])]


def test_original_norm_eps():
    model = MiT(arch='b0')
    assert all(layer[0].norm.eps == 1e-5 for layer in model.layers)
    assert all(block.attn.norm.eps == 1e-5 for layer in model.layers for block in layer[1] if block.attn.sr_ratio > 1)
    assert all(n.eps == 1e-6 for layer in model.layers for block in layer[1] for n in (block.norm1, block.norm2))
    assert all(layer[2].eps == 1e-6 for layer in model.layers)


def test_random_init_follows_the_original():
    torch.manual_seed(0)
    model = MiT(arch='b0')
    model.init_weights()
    block = model.layers[3][1][0]
    # Every Linear of the original (q/k/v, proj, fc1, fc2) is trunc_normal(std=0.02) with zero bias.
    for weight in (block.attn.attn.in_proj_weight, block.attn.attn.out_proj.weight, block.ffn.layers[0].weight,
                   block.ffn.layers[4].weight):
        assert abs(weight.std().item() - 0.02) < 0.002
    assert not block.attn.attn.in_proj_bias.any() and not block.ffn.layers[0].bias.any()


@pytest.fixture
def reference_file(tmp_path):
    ref = random_reference('b0')
    path = tmp_path / 'mit_b0.pth'
    # As distributed: the ImageNet classifier is included and the dict is wrapped.
    sd = dict(ref.state_dict(), **{'head.weight': torch.zeros(1000, 256), 'head.bias': torch.zeros(1000)})
    torch.save({'state_dict': sd}, path)
    return ref, path


def reference_inputs():
    torch.manual_seed(1)
    # Odd sizes exercise the patch-embedding padding; the low-contrast image makes LayerNorm eps matter.
    return [torch.randn(2, 3, 70, 90), 1e-4 * torch.randn(1, 3, 64, 64)]


def assert_same_outputs(model, ref, atol=1e-5):
    model.eval()
    with torch.no_grad():
        for x in reference_inputs():
            for out, expected in zip(model(x), ref(x)):
                torch.testing.assert_close(out, expected, atol=atol, rtol=1e-4)


def test_original_layout_matches_reference(reference_file):
    ref, path = reference_file
    model = MiT(arch='b0', pretrained=str(path))
    model.init_weights()
    assert_same_outputs(model, ref)


def test_mmseg_norm_eps_would_differ(reference_file):
    ref, path = reference_file
    model = MiT(arch='b0', pretrained=str(path), original_numerics=False)
    model.init_weights()
    with pytest.raises(AssertionError):
        assert_same_outputs(model, ref)


def test_hf_layout_matches_reference(tmp_path):
    ref = random_reference('b0', seed=3)
    path = tmp_path / 'pytorch_model.bin'
    torch.save(to_hf_layout(ref.state_dict()), path)
    model = MiT(arch='b0', pretrained=str(path))
    model.init_weights()
    assert_same_outputs(model, ref)


def test_mmseg_layout_and_model_wrapper_load(tmp_path):
    source = MiT(arch='b0')
    source.init_weights()
    path = tmp_path / 'mit_mmseg.pth'
    torch.save({'model': {f'module.{k}': v for k, v in source.state_dict().items()}}, path)
    model = MiT(arch='b0', pretrained=str(path))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


def test_round_trip_mmseg_original_mmseg():
    model = MiT(arch='b0')
    model.init_weights()
    sd = model.state_dict()
    original = mmseg_to_original(sd)
    assert detect_layout(original) == 'original'
    assert set(original) == set(RefMiT('b0').state_dict())
    back = convert_mit_state_dict(original)
    assert list(back) == list(sd)
    assert all(torch.equal(back[k], sd[k]) for k in sd)


def test_segmentor_state_dict_conversion():
    original = mmseg_to_original(MiT(arch='b0').state_dict())
    resnet = {'backbone.stem.0.weight': torch.zeros(1), 'backbone.layer1.0.conv1.weight': torch.zeros(1)}
    sd = {f'{p}backbone.{k}': v for p in ('model.', 'ema_model.', 'imnet_model.') for k, v in original.items()}
    sd['model.decode_head.conv_seg.weight'] = torch.zeros(1)
    converted = convert_segmentor_state_dict(dict(sd, **{'other.' + k: v for k, v in resnet.items()}))
    for p in ('model.', 'ema_model.', 'imnet_model.'):
        group = {k[len(p + 'backbone.'):]: v for k, v in converted.items() if k.startswith(p + 'backbone.')}
        assert detect_layout(group) == 'mmseg'
        assert set(group) == set(MiT(arch='b0').state_dict())
    assert 'model.decode_head.conv_seg.weight' in converted
    assert all('other.' + k in converted for k in resnet)  # a non-MiT backbone stays as it is
    back = convert_segmentor_state_dict(converted, target='original')
    assert set(back) == set(sd) | {'other.' + k for k in resnet}
    assert all(torch.equal(back[k], v) for k, v in sd.items())


def test_detect_arch():
    for arch in ('b0', 'b2'):
        assert detect_arch(MiT(arch=arch).state_dict()) == arch


def test_missing_pretrained_file(tmp_path):
    model = MiT(arch='b0', pretrained=str(tmp_path / 'nope.pth'))
    with pytest.raises(UserError, match='nope.pth'):
        model.init_weights()


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint')
    with pytest.raises(UserError, match='notes.pth'):
        MiT(arch='b0', pretrained=str(path)).init_weights()


def test_resnet_weights_rejected(tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(64, 3, 7, 7), 'bn1.weight': torch.zeros(64),
                               'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1)}}, path)
    with pytest.raises(UserError, match=r'resnet\.pth: not MiT weights.*conv1\.weight'):
        MiT(arch='b0', pretrained=str(path)).init_weights()


def test_wrong_arch_names_key_and_shapes(tmp_path):
    path = tmp_path / 'mit_b0.pth'
    torch.save(mmseg_to_original(MiT(arch='b0').state_dict()), path)
    model = MiT(arch='b5', pretrained=str(path))
    with pytest.raises(UserError, match=r'layers\.0\.0\.projection\.weight has shape \(32, 3, 7, 7\) in the '
                                        r'checkpoint, \(64, 3, 7, 7\) in the model'):
        model.init_weights()


def test_same_width_other_depth_names_missing_key(tmp_path):
    path = tmp_path / 'mit_b1.pth'
    torch.save(mmseg_to_original(MiT(arch='b1').state_dict()), path)
    with pytest.raises(UserError, match=r'MiT-b2 .*: 140 missing keys \(layers\.0\.1\.2\.norm1\.weight'):
        MiT(arch='b2', pretrained=str(path)).init_weights()


def test_unknown_arch():
    with pytest.raises(UserError, match='b7'):
        MiT(arch='b7')
