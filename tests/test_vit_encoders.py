"""CheckedBEiT and CheckedMAE: sizes against a closed-form count, loading of official BEiT / MAE files and of
mmseg-converted ones checked against an independent plain-torch ViT forward written from the file's tensors, and
the resizing of relative position tables and position embeddings."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from daseg.errors import UserError
from daseg.models.backbones import CheckedBEiT, CheckedMAE
from daseg.weights.vit_keys import beit_state_dict, geometric_resize, mae_state_dict, split_mae_checkpoint

# Small ViTs: patch 8, 32 x 32 images (a 4 x 4 grid of patches), width 16, 4 heads, 3 layers.
SMALL = dict(img_size=32, patch_size=8, embed_dims=16, num_layers=3, num_heads=4, mlp_ratio=4,
             out_indices=(0, 2), norm_cfg=dict(type='LN', eps=1e-6))
HEADS, GRID = 4, 4


# ---------------------------------------------------------------------------------------------------------------
# Size of ViT-B/16 at 224: published 86.6M with its 1000-way head (86,567,656 in timm's model table; "86M" in
# Dosovitskiy et al. 2021, Table 1).
# ---------------------------------------------------------------------------------------------------------------

def vit_params(dims=768, layers=12, patch=16, image=224, mlp_ratio=4, classes=1000):
    tokens = (image // patch) ** 2 + 1
    count = 3 * patch * patch * dims + dims + dims + tokens * dims  # patch conv, class token, position embedding
    # qkv 3d^2+3d, proj d^2+d, fc1 and fc2 2*r*d^2 + r*d + d, two LayerNorms 4d
    count += layers * ((4 + 2 * mlp_ratio) * dims * dims + (9 + mlp_ratio) * dims)
    return count + 2 * dims + dims * classes + classes  # final LayerNorm + head


def test_vit_b_parameter_count_matches_the_closed_form_and_the_published_size(monkeypatch):
    linspace = torch.linspace  # mmseg reads drop-path rates with .item(), which meta tensors cannot answer
    monkeypatch.setattr(torch, 'linspace', lambda *a, **k: linspace(*a, **dict(k, device='cpu')))
    with torch.device('meta'):
        model = CheckedMAE(img_size=224, final_norm=True)
    formula = vit_params()
    assert formula == 86_567_656 and round(formula / 1e6, 1) == 86.6
    # mmseg's MAE adds, per layer, the layer scales (2d) and a relative position table ((2*14-1)^2 + 3 offsets,
    # 12 heads), which a plain ViT (and the MAE file) lacks.
    extra = 12 * (2 * 768 + ((2 * 14 - 1) ** 2 + 3) * 12)
    assert sum(p.numel() for p in model.parameters()) + 768 * 1000 + 1000 == formula + extra


# ---------------------------------------------------------------------------------------------------------------
# Files in the official layouts (names and shapes of microsoft/unilm's BEiT and facebookresearch/mae's ViT).
# ---------------------------------------------------------------------------------------------------------------

def official_vit_file(family, shared_table=False, dims=16, layers=3, patch=8, grid=GRID, heads=HEADS, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, mean=0.0, std=0.3):
        return mean + std * torch.randn(*shape, generator=g)

    offsets = (2 * grid - 1) ** 2 + 3
    sd = {'cls_token': rand(1, 1, dims), 'patch_embed.proj.weight': rand(dims, 3, patch, patch, std=0.1),
          'patch_embed.proj.bias': rand(dims), 'norm.weight': rand(dims, mean=1), 'norm.bias': rand(dims),
          'head.weight': rand(10, dims), 'head.bias': rand(10)}
    if family == 'mae':
        sd['pos_embed'] = rand(1, grid * grid + 1, dims)
    elif shared_table:
        sd.update({'rel_pos_bias.relative_position_bias_table': rand(offsets, heads, std=1.0),
                   'rel_pos_bias.relative_position_index': torch.zeros(grid ** 2 + 1, grid ** 2 + 1).long(),
                   'mask_token': rand(1, 1, dims), 'lm_head.weight': rand(20, dims), 'lm_head.bias': rand(20)})
    for i in range(layers):
        p = f'blocks.{i}.'
        sd.update({p + 'norm1.weight': rand(dims, mean=1), p + 'norm1.bias': rand(dims),
                   p + 'attn.qkv.weight': rand(3 * dims, dims, std=dims ** -0.5),
                   p + 'attn.proj.weight': rand(dims, dims, std=dims ** -0.5), p + 'attn.proj.bias': rand(dims),
                   p + 'norm2.weight': rand(dims, mean=1), p + 'norm2.bias': rand(dims),
                   p + 'mlp.fc1.weight': rand(4 * dims, dims, std=dims ** -0.5), p + 'mlp.fc1.bias': rand(4 * dims),
                   p + 'mlp.fc2.weight': rand(dims, 4 * dims, std=(4 * dims) ** -0.5), p + 'mlp.fc2.bias': rand(dims)})
        if family == 'mae':  # one bias over q, k and v; no layer scale, no relative position bias
            sd[p + 'attn.qkv.bias'] = rand(3 * dims)
        else:
            sd.update({p + 'attn.q_bias': rand(dims), p + 'attn.v_bias': rand(dims),
                       p + 'gamma_1': rand(dims, mean=0.5), p + 'gamma_2': rand(dims, mean=0.5)})
            if not shared_table:
                sd[p + 'attn.relative_position_bias_table'] = rand(offsets, heads, std=1.0)
                sd[p + 'attn.relative_position_index'] = torch.zeros(grid ** 2 + 1, grid ** 2 + 1).long()
    return sd


# ---------------------------------------------------------------------------------------------------------------
# Reference: the ViT forward with BEiT's relative position bias / MAE's absolute position embedding, written from
# the papers' definitions on the file's tensors.
# ---------------------------------------------------------------------------------------------------------------

def ref_relative_index(grid):
    """[N+1, N+1] table rows: patch pairs by offset (dy, dx), rows 2*grid-1 long; then the three class-token
    entries: class token -> patch, patch -> class token, class token -> itself."""
    ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    n, span = grid * grid, 2 * grid - 1
    index = torch.empty(n + 1, n + 1, dtype=torch.long)
    index[1:, 1:] = (ys[:, None] - ys[None, :] + grid - 1) * span + (xs[:, None] - xs[None, :] + grid - 1)
    index[0, 1:], index[1:, 0], index[0, 0] = span * span, span * span + 1, span * span + 2
    return index


def ref_vit(sd, image, heads, patch, final_norm=False):
    """Every layer's patch tokens as maps [B, C, h, w] (the last through the file's final norm if asked)."""
    x = F.conv2d(image, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=patch)
    b, c, h, w = x.shape
    x = torch.cat([sd['cls_token'].expand(b, -1, -1), x.flatten(2).transpose(1, 2)], 1)
    if 'pos_embed' in sd:
        x = x + sd['pos_embed']
    index = ref_relative_index(h)
    layers = len({k.split('.')[1] for k in sd if k.startswith('blocks.')})
    outs = []
    for i in range(layers):
        p = f'blocks.{i}.'
        ln = lambda t, name: F.layer_norm(t, (c,), sd[p + name + '.weight'], sd[p + name + '.bias'], eps=1e-6)  # noqa
        if p + 'attn.q_bias' in sd:
            bias = torch.cat([sd[p + 'attn.q_bias'], torch.zeros_like(sd[p + 'attn.q_bias']), sd[p + 'attn.v_bias']])
        else:
            bias = sd[p + 'attn.qkv.bias']
        q, k, v = F.linear(ln(x, 'norm1'), sd[p + 'attn.qkv.weight'], bias).view(
            b, -1, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        table = sd.get(p + 'attn.relative_position_bias_table', sd.get('rel_pos_bias.relative_position_bias_table'))
        if table is not None:
            attn = attn + table[index].permute(2, 0, 1)
        y = F.linear((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, c), sd[p + 'attn.proj.weight'],
                     sd[p + 'attn.proj.bias'])
        x = x + sd.get(p + 'gamma_1', 1.0) * y
        y = F.linear(F.gelu(F.linear(ln(x, 'norm2'), sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])),
                     sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])
        x = x + sd.get(p + 'gamma_2', 1.0) * y
        out = x
        if final_norm and i == layers - 1:
            out = F.layer_norm(x, (c,), sd['norm.weight'], sd['norm.bias'], eps=1e-6)
        outs.append(out[:, 1:].transpose(1, 2).reshape(b, c, h, w))
    return outs


def mmseg_name(key):
    """The official name's counterpart in mmseg's BEiT / MAE, spelled out."""
    for old, new in (('patch_embed.proj.', 'patch_embed.projection.'), ('blocks.', 'layers.'), ('.norm1.', '.ln1.'),
                     ('.norm2.', '.ln2.'), ('.mlp.fc1.', '.ffn.layers.0.0.'), ('.mlp.fc2.', '.ffn.layers.1.')):
        key = key.replace(old, new)
    return 'ln1.' + key[len('norm.'):] if key.startswith('norm.') else key  # mmseg's final norm: ln1


CASES = {'beit': ('beit', False, CheckedBEiT), 'beit_shared_table': ('beit', True, CheckedBEiT),
         'mae': ('mae', False, CheckedMAE)}


@pytest.mark.parametrize('case', CASES)
def test_official_file_lands_in_place_and_computes_the_reference_forward(case, tmp_path):
    family, shared, cls = CASES[case]
    sd = official_vit_file(family, shared)
    path = str(tmp_path / f'{case}.pth')
    torch.save({'model': sd}, path)
    convert = beit_state_dict if family == 'beit' else mae_state_dict
    converted = convert({'model': sd}, path)
    for key, value in sd.items():
        if key.startswith(('head.', 'lm_head.', 'mask_token', 'rel_pos_bias.')) or key.endswith('_index'):
            continue
        assert torch.equal(converted.pop(mmseg_name(key)), value), key
    for i in range(3):
        if shared:  # the one table of the self-supervised file, in every layer
            table = converted.pop(f'layers.{i}.attn.relative_position_bias_table')
            assert torch.equal(table, sd['rel_pos_bias.relative_position_bias_table'])
        if family == 'mae':  # no layer scale in the file: ones, so that the encoder computes the file's function
            for gamma in ('gamma_1', 'gamma_2'):
                assert torch.equal(converted.pop(f'layers.{i}.{gamma}'), torch.ones(16))
    assert not converted

    model = cls(**dict(SMALL, final_norm=True), pretrained=path)
    model.init_weights()
    model.eval()
    model.double()
    image = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    ref = ref_vit({k: v.double() for k, v in sd.items()}, image, HEADS, 8, final_norm=True)
    with torch.no_grad():
        outs = model(image)
    assert len(outs) == 2
    torch.testing.assert_close(outs[0], ref[0], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(outs[1], ref[2], rtol=1e-9, atol=1e-9)


def test_mae_keeps_the_full_qkv_bias():
    """mmseg's MAE builds its attention with bias=True: the file's k bias is a parameter there and loads; it is
    not dropped (dropping it would be exact too, q . b_k being the same for every key of a query)."""
    model = CheckedMAE(**SMALL)
    assert model.layers[0].attn.qkv.bias.shape == (3 * 16,)
    sd = official_vit_file('mae')
    model.load_pretrained(sd, 'mae.pth')
    assert torch.equal(model.layers[0].attn.qkv.bias.detach(), sd['blocks.0.attn.qkv.bias'])
    assert torch.equal(model.layers[1].attn.relative_position_bias_table.detach(), torch.zeros(52, HEADS))


def test_mmseg_converted_files_load_to_the_same_weights():
    for family, convert in (('beit', beit_state_dict), ('mae', mae_state_dict)):
        converted = convert({'model': official_vit_file(family)})
        again = convert({'state_dict': {f'backbone.{k}': v for k, v in converted.items()}}, 'mmseg.pth')
        assert again.keys() == converted.keys()
        assert all(torch.equal(again[k], converted[k]) for k in converted)


def test_beit_tables_resized_from_the_pretraining_window():
    """A 4 x 4 window (7^2 + 3 offsets) to 6 x 6 (11^2 + 3): the class-token entries are kept, the patch offsets
    interpolated on BEiT's geometric grid."""
    sd = official_vit_file('beit')
    model = CheckedBEiT(**dict(SMALL, img_size=48))
    model.load_pretrained(sd, 'beit.pth')
    table = model.layers[0].attn.relative_position_bias_table.detach()
    source = sd['blocks.0.attn.relative_position_bias_table']
    assert table.shape == (11 * 11 + 3, HEADS)
    torch.testing.assert_close(table[-3:], source[-3:], rtol=0, atol=0)
    torch.testing.assert_close(table[60], source[24])  # offset (0, 0) at the centre of both grids


def test_geometric_resize_reproduces_a_plane_on_the_geometric_grid():
    """Sampled at BEiT's geometric positions (q solved here with numpy's polynomial roots, not by bisection), a
    plane a + b*row + c*col comes back at the integer target offsets: cubic splines reproduce it."""
    src, dst = 9, 13  # windows 5 -> 7
    half, target = src // 2, dst // 2
    roots = np.roots([1.0] * (half - 1) + [1.0 - target])  # q^(half-1) + ... + q + 1 = target
    q = float(next(r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0))
    steps = np.cumsum(q ** np.arange(half))
    positions = np.concatenate([-steps[::-1], [0.0], steps])
    rows, cols = np.meshgrid(positions, positions, indexing='ij')
    plane = lambda r, c: 0.5 + 2.0 * r - 3.0 * c  # noqa: E731
    table = torch.tensor(np.stack([plane(rows, cols), -plane(rows, cols)], -1).reshape(src * src, 2))
    out = geometric_resize(table, src, dst)
    wanted = np.arange(-target, target + 1.0)
    rows, cols = np.meshgrid(wanted, wanted, indexing='ij')
    expected = torch.tensor(np.stack([plane(rows, cols), -plane(rows, cols)], -1).reshape(dst * dst, 2))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)


def test_mae_position_embedding_resized_to_the_model_grid():
    sd = official_vit_file('mae')
    model = CheckedMAE(**dict(SMALL, img_size=48))
    model.load_pretrained(sd, 'mae.pth')
    assert model.pos_embed.shape == (1, 37, 16)
    assert torch.equal(model.pos_embed.detach()[:, 0], sd['pos_embed'][:, 0])  # the class token's is kept


def test_errors_are_one_line(tmp_path):
    swin = {'layers.0.blocks.0.attn.qkv.weight': torch.zeros(3, 1), 'patch_embed.proj.weight': torch.zeros(1)}
    with pytest.raises(UserError, match=r'swin\.pth holds Swin weights \(--family swin\), not BEiT weights'):
        beit_state_dict({'model': swin}, 'swin.pth')
    with pytest.raises(UserError, match=r'beit\.pth holds BEiT weights \(--family beit\), not MAE / ViT weights'):
        mae_state_dict(official_vit_file('beit'), 'beit.pth')
    sd = official_vit_file('mae')
    gap = {k: v for k, v in sd.items() if not k.startswith('blocks.1.')}
    with pytest.raises(UserError, match=r'gap\.pth: block layers\.1 is missing, the file has layers\.0 to layers\.2'):
        mae_state_dict(gap, 'gap.pth')
    short = {k: v for k, v in sd.items() if not k.startswith('blocks.2.')}
    with pytest.raises(UserError, match=r'short\.pth does not fit CheckedMAE: \d+ missing keys \(layers\.2\.'):
        CheckedMAE(**SMALL).load_pretrained(short, 'short.pth')
    with pytest.raises(UserError, match='is a download address'):
        CheckedBEiT(**SMALL, pretrained='https://conversationhub.blob.core.windows.net/beit/beit_base.pth')
    with pytest.raises(UserError, match='either pretrained or init_cfg'):
        CheckedMAE(**SMALL, pretrained='pretrained/mae.pth', init_cfg=dict(type='TruncNormal'))
    text = tmp_path / 'mae.pth'
    text.write_text('<html>not found</html>')
    with pytest.raises(UserError, match='is not a PyTorch checkpoint') as error:
        CheckedMAE(**SMALL, pretrained=str(text)).init_weights()
    assert '\n' not in str(error.value)
    dropped = split_mae_checkpoint(sd, 'mae.pth')[1]
    assert dropped == ['head.weight', 'head.bias']


@pytest.mark.parametrize('cls', [CheckedBEiT, CheckedMAE])
def test_forward_and_backward_on_the_cpu(cls):
    torch.manual_seed(0)
    model = cls(**dict(SMALL, drop_path_rate=0.1))
    model.init_weights()
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 4, 4)] * 2
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
