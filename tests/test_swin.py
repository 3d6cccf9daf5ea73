"""CheckedSwinTransformer: sizes against a closed-form count, and loading of the official Microsoft release and of
mmseg-converted files checked against an independent plain-torch Swin forward written from the file's tensors."""
import pytest
import torch
import torch.nn.functional as F

from daseg.errors import UserError
from daseg.models.backbones import CheckedSwinTransformer
from daseg.weights.swin_keys import resize_table, split_swin_checkpoint, swin_state_dict

# A small Swin: patch 2, window 3, 4 stages, every stage with a shifted block; inputs 48 x 96 give stage maps
# 24x48, 12x24, 6x12, 3x6 (multiples of the window, so the reference needs no padding).
SMALL = dict(embed_dims=12, depths=(2, 2, 2, 2), num_heads=(1, 2, 3, 4), window_size=3, patch_size=2,
             strides=(2, 2, 2, 2), pretrain_img_size=48, drop_path_rate=0.0)
IMAGE = (48, 96)


def small_model(**overrides):
    return CheckedSwinTransformer(**dict(SMALL, **overrides))


# ---------------------------------------------------------------------------------------------------------------
# Sizes: closed form from the architecture, with the classifier (LayerNorm + 1000-way linear head) of the release.
# Published: Swin paper (Liu et al. 2021, Table 1) 28M / 50M / 88M / 197M; the official code prints
# "number of params: 28288354" for Swin-T, and timm's tables give 28.29M / 49.61M / 87.77M / 196.53M.
# ---------------------------------------------------------------------------------------------------------------

def swin_params(embed, depths, heads, window=7, mlp_ratio=4, patch=4, classes=1000):
    """Parameters of the official Swin classifier, counted by hand."""
    count = 3 * patch * patch * embed + embed + 2 * embed  # patch conv + its LayerNorm
    for i, (depth, head) in enumerate(zip(depths, heads)):
        d = embed * 2 ** i
        # qkv 3d^2+3d, proj d^2+d, fc1 and fc2 2*r*d^2 + r*d + d, two LayerNorms 4d, bias table (2w-1)^2 heads
        block = (4 + 2 * mlp_ratio) * d * d + (9 + mlp_ratio) * d + (2 * window - 1) ** 2 * head
        count += depth * block
        if i < len(depths) - 1:
            count += 2 * 4 * d + 4 * d * 2 * d  # patch merging: LayerNorm(4d), Linear(4d, 2d) without bias
    last = embed * 2 ** (len(depths) - 1)
    return count + 2 * last + last * classes + classes  # final LayerNorm + head


VARIANTS = {  # name: (embed, depths, heads, published parameters in millions, tolerance)
    'T': (96, (2, 2, 6, 2), (3, 6, 12, 24), 28.3, 0.05),
    'S': (96, (2, 2, 18, 2), (3, 6, 12, 24), 49.6, 0.05),
    'B': (128, (2, 2, 18, 2), (4, 8, 16, 32), 87.8, 0.05),
    'L': (192, (2, 2, 18, 2), (6, 12, 24, 48), 196.75, 0.25),
}


@pytest.mark.parametrize('name', VARIANTS)
def test_parameter_count_matches_the_closed_form_and_the_published_size(name, monkeypatch):
    embed, depths, heads, published, tol = VARIANTS[name]
    linspace = torch.linspace  # mmseg reads drop-path rates with .item(), which meta tensors cannot answer
    monkeypatch.setattr(torch, 'linspace', lambda *a, **k: linspace(*a, **dict(k, device='cpu')))
    with torch.device('meta'):
        # Only the last stage's output norm: it is the classifier's final norm; norm0..2 exist only for dense use.
        model = CheckedSwinTransformer(embed_dims=embed, depths=depths, num_heads=heads, out_indices=(3,))
    head = embed * 8 * 1000 + 1000
    formula = swin_params(embed, depths, heads)
    assert sum(p.numel() for p in model.parameters()) + head == formula
    assert abs(formula / 1e6 - published) <= tol
    if name == 'T':
        assert formula == 28_288_354


# ---------------------------------------------------------------------------------------------------------------
# A file in the official layout (names and shapes of microsoft/Swin-Transformer's SwinTransformer), random values.
# ---------------------------------------------------------------------------------------------------------------

def official_swin_file(embed=12, depths=(2, 2, 2, 2), heads=(1, 2, 3, 4), window=3, patch=2, classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, mean=0.0, std=0.3):
        return mean + std * torch.randn(*shape, generator=g)

    sd = {'patch_embed.proj.weight': rand(embed, 3, patch, patch), 'patch_embed.proj.bias': rand(embed),
          'patch_embed.norm.weight': rand(embed, mean=1), 'patch_embed.norm.bias': rand(embed)}
    for i, (depth, head) in enumerate(zip(depths, heads)):
        d = embed * 2 ** i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}.'
            sd.update({p + 'norm1.weight': rand(d, mean=1), p + 'norm1.bias': rand(d),
                       p + 'attn.relative_position_bias_table': rand((2 * window - 1) ** 2, head, std=1.0),
                       p + 'attn.relative_position_index': torch.zeros(window ** 2, window ** 2, dtype=torch.long),
                       p + 'attn.qkv.weight': rand(3 * d, d, std=d ** -0.5), p + 'attn.qkv.bias': rand(3 * d),
                       p + 'attn.proj.weight': rand(d, d, std=d ** -0.5), p + 'attn.proj.bias': rand(d),
                       p + 'norm2.weight': rand(d, mean=1), p + 'norm2.bias': rand(d),
                       p + 'mlp.fc1.weight': rand(4 * d, d, std=d ** -0.5), p + 'mlp.fc1.bias': rand(4 * d),
                       p + 'mlp.fc2.weight': rand(d, 4 * d, std=(4 * d) ** -0.5), p + 'mlp.fc2.bias': rand(d)})
            if j % 2:
                sd[p + 'attn_mask'] = torch.zeros(1, window ** 2, window ** 2)
        if i < len(depths) - 1:
            p = f'layers.{i}.downsample.'
            sd.update({p + 'norm.weight': rand(4 * d, mean=1), p + 'norm.bias': rand(4 * d),
                       p + 'reduction.weight': rand(2 * d, 4 * d, std=(4 * d) ** -0.5)})
    last = embed * 2 ** (len(depths) - 1)
    sd.update({'norm.weight': rand(last, mean=1), 'norm.bias': rand(last), 'head.weight': rand(classes, last),
               'head.bias': rand(classes)})
    return sd


# ---------------------------------------------------------------------------------------------------------------
# Reference: the Swin forward written from the paper and the official code's structure, on the file's tensors.
# ---------------------------------------------------------------------------------------------------------------

def ref_windows(x, w):
    """[B, H, W, C] -> [B * H/w * W/w, w*w, C], windows in raster order."""
    b, h, wd, c = x.shape
    return x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def ref_unwindows(x, b, h, wd, w):
    c = x.shape[-1]
    return x.view(b, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, wd, c)


def ref_bias(table, w):
    """[heads, w*w, w*w]: the table entry of each (query, key) offset (dy, dx), rows (2w-1) long."""
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    index = (ys[:, None] - ys[None, :] + w - 1) * (2 * w - 1) + (xs[:, None] - xs[None, :] + w - 1)
    return table[index].permute(2, 0, 1)


def ref_shift_mask(h, wd, w, s):
    """[windows, w*w, w*w]: -100 between positions of different regions of the cyclically shifted map."""
    def region(n):
        i = torch.arange(n)
        return (i >= n - w).long() + (i >= n - s).long()
    label = (region(h)[:, None] * 3 + region(wd)[None, :]).to(torch.float64)
    label = ref_windows(label[None, :, :, None], w)[..., 0]
    return (label[:, :, None] != label[:, None, :]).to(torch.float64) * -100.0


def ref_block(sd, p, x, h, wd, heads, w, shift):
    b, n, c = x.shape
    ln = lambda t, name: F.layer_norm(t, (c,), sd[f'{p}{name}.weight'], sd[f'{p}{name}.bias'])  # noqa: E731
    y = ln(x, 'norm1').view(b, h, wd, c)
    s = w // 2 if shift else 0
    if s:
        y = torch.roll(y, (-s, -s), (1, 2))
    win = ref_windows(y, w)
    q, k, v = F.linear(win, sd[p + 'attn.qkv.weight'], sd[p + 'attn.qkv.bias']).view(
        win.shape[0], w * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1) + ref_bias(sd[p + 'attn.relative_position_bias_table'], w)
    if s:
        mask = ref_shift_mask(h, wd, w, s)
        attn = (attn.view(b, mask.shape[0], heads, w * w, w * w) + mask[None, :, None]).view(attn.shape)
    out = F.linear((attn.softmax(-1) @ v).transpose(1, 2).reshape(win.shape[0], w * w, c),
                   sd[p + 'attn.proj.weight'], sd[p + 'attn.proj.bias'])
    out = ref_unwindows(out, b, h, wd, w)
    if s:
        out = torch.roll(out, (s, s), (1, 2))
    x = x + out.reshape(b, n, c)
    y = F.gelu(F.linear(ln(x, 'norm2'), sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias']))
    return x + F.linear(y, sd[p + 'mlp.fc2.weight'], sd[p + 'mlp.fc2.bias'])


def ref_merge(sd, p, x, h, wd):
    """The official PatchMerging: neighbours (row, col) (0,0), (1,0), (0,1), (1,1) concatenated."""
    b, _, c = x.shape
    x = x.view(b, h, wd, c)
    x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1).view(b, -1, 4 * c)
    x = F.layer_norm(x, (4 * c,), sd[p + 'norm.weight'], sd[p + 'norm.bias'])
    return F.linear(x, sd[p + 'reduction.weight'])


def ref_swin(sd, image, depths, heads, w, patch):
    """The four stage outputs [B, C_i, H_i, W_i]: the last through the file's final norm, the others through a
    LayerNorm without affine (mmseg's norm0..2 as initialised)."""
    x = F.conv2d(image, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=patch)
    b, c, h, wd = x.shape
    x = F.layer_norm(x.flatten(2).transpose(1, 2), (c,), sd['patch_embed.norm.weight'], sd['patch_embed.norm.bias'])
    outs = []
    for i, depth in enumerate(depths):
        for j in range(depth):
            x = ref_block(sd, f'layers.{i}.blocks.{j}.', x, h, wd, heads[i], w, shift=j % 2 == 1)
        c = x.shape[-1]
        if i == len(depths) - 1:
            out = F.layer_norm(x, (c,), sd['norm.weight'], sd['norm.bias'])
        else:
            out = F.layer_norm(x, (c,))
        outs.append(out.transpose(1, 2).reshape(b, c, h, wd))
        if i < len(depths) - 1:
            x = ref_merge(sd, f'layers.{i}.downsample.', x, h, wd)
            h, wd = h // 2, wd // 2
    return outs


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    sd = official_swin_file()
    path = tmp_path_factory.mktemp('swin') / 'swin_small_patch2_window3.pth'
    torch.save({'model': sd}, path)
    return sd, str(path)


def unfold_slot_of(feature, c_in):
    """Where mmseg's PatchMerging input feature ``feature`` (= c * 4 + k, nn.Unfold with k = 2 * row + col) sits
    in the official concatenation [x(0,0) | x(1,0) | x(0,1) | x(1,1)]."""
    c, k = divmod(feature, 4)
    row, col = divmod(k, 2)
    return [(0, 0), (1, 0), (0, 1), (1, 1)].index((row, col)) * c_in + c


def test_every_official_tensor_lands_in_its_place(official):
    sd, path = official
    converted, dropped = split_swin_checkpoint({'model': sd}, path)
    assert set(dropped) == {k for k in sd if k.startswith('head.') or k.endswith(('_index', 'attn_mask'))}
    for key, value in sd.items():
        if key in dropped:
            continue
        name = key.replace('patch_embed.proj.', 'patch_embed.projection.').replace('layers.', 'stages.', 1)
        name = name.replace('.attn.', '.attn.w_msa.').replace('.mlp.fc1.', '.ffn.layers.0.0.')
        name = name.replace('.mlp.fc2.', '.ffn.layers.1.')
        if name.startswith('norm.'):  # the classifier's final norm is the last stage's output norm
            name = 'norm3.' + name[len('norm.'):]
        if '.downsample.' in key:
            c_in = value.shape[-1] // 4
            order = torch.tensor([unfold_slot_of(f, c_in) for f in range(4 * c_in)])
            value = value[..., order]
        torch.testing.assert_close(converted.pop(name), value, rtol=0, atol=0, msg=key)
    assert not converted


def test_official_file_computes_the_reference_forward(official):
    sd, path = official
    torch.manual_seed(0)
    model = small_model()
    model.pretrained = path
    model.init_weights()
    model.eval()  # mmseg's SwinTransformer.train() returns None: no chaining
    model.double()
    image = torch.randn(2, 3, *IMAGE, dtype=torch.float64)
    ref = ref_swin({k: v.double() for k, v in sd.items()}, image, SMALL['depths'], SMALL['num_heads'], 3, 2)
    with torch.no_grad():
        outs = model(image)
    assert [tuple(o.shape) for o in outs] == [(2, 12 * 2 ** i, 24 // 2 ** i, 48 // 2 ** i) for i in range(4)]
    for out, expected in zip(outs, ref):
        torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-9)


def test_mmseg_converted_file_loads_to_the_same_weights(official):
    """swin2mmseg's output: mmseg names under backbone., the classifier's final norm still called norm."""
    sd, path = official
    converted = swin_state_dict({'model': sd}, path)
    mmseg_file = {f'backbone.{k.replace("norm3.", "norm.")}': v for k, v in converted.items()}
    again = swin_state_dict({'state_dict': mmseg_file}, 'mmseg.pth')
    assert again.keys() == converted.keys()
    for key in converted:
        assert torch.equal(again[key], converted[key]), key


def test_window_of_another_size_resizes_the_tables(official):
    sd, path = official
    model = small_model(window_size=4, out_indices=(3,))
    model.load_pretrained({'model': sd}, path)
    table = model.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    assert table.shape == (49, 1)
    constant = resize_table(torch.full((25, 2), 0.7), 7)  # bicubic reproduces a constant
    torch.testing.assert_close(constant, torch.full((49, 2), 0.7))
    centre = resize_table(torch.arange(25.).view(25, 1), 5)  # same size: the same table
    torch.testing.assert_close(centre, torch.arange(25.).view(25, 1))


def test_one_log_line_names_what_was_not_loaded_and_what_was_dropped(official, monkeypatch):
    import daseg.weights.encoder_keys as encoder_keys
    sd, path = official
    lines = []
    monkeypatch.setattr(encoder_keys, 'print_log', lambda line, logger=None: lines.append(line))
    small_model().load_pretrained({'model': sd}, path)
    assert len(lines) == 1 and '\n' not in lines[0]
    assert 'initialised, not loaded: norm0.weight, norm0.bias, norm1.weight' in lines[0]
    assert 'dropped: head.weight, head.bias' in lines[0] and '8 buffers computed by the model' in lines[0]


def test_absolute_position_embedding_resized_to_the_pretraining_grid():
    model = small_model(use_abs_pos_embed=True, pretrain_img_size=(12, 24), out_indices=(3,))
    sd = swin_state_dict({'model': official_swin_file()})
    sd['absolute_pos_embed'] = torch.full((1, 16, 12), 0.25)  # a 4 x 4 grid in the file
    model.load_pretrained(sd, 'ape.pth')
    assert model.absolute_pos_embed.shape == (1, 6 * 12, 12)
    torch.testing.assert_close(model.absolute_pos_embed.detach(), torch.full((1, 72, 12), 0.25))


def test_errors_are_one_line(official, tmp_path):
    sd, path = official
    gap = {k: v for k, v in sd.items() if not k.startswith('layers.1.blocks.0.')}
    with pytest.raises(UserError, match=r'gap\.pth: block stages\.1\.blocks\.0 is missing'):
        swin_state_dict(gap, 'gap.pth')
    short = {k: v for k, v in sd.items() if not k.startswith('layers.2.blocks.1.')}
    with pytest.raises(UserError, match=r'short\.pth does not fit CheckedSwinTransformer: \d+ missing keys '
                                        r'\(stages\.2\.blocks\.1\.'):
        small_model().load_pretrained(short, 'short.pth')
    partial = {k: v for k, v in sd.items() if k != 'layers.0.blocks.1.mlp.fc2.bias'}
    with pytest.raises(UserError, match=r'block stages\.0\.blocks\.1 lacks ffn\.layers\.1\.bias'):
        swin_state_dict(partial, 'partial.pth')
    other = small_model(embed_dims=24, num_heads=(2, 4, 6, 8))
    with pytest.raises(UserError, match=r'patch_embed\.projection\.weight has shape \(12, 3, 2, 2\) in the '
                                        r'checkpoint, \(24, 3, 2, 2\) in the model'):
        other.load_pretrained(sd, path)
    with pytest.raises(UserError, match='is a download address'):
        small_model(pretrained='https://github.com/SwinTransformer/storage/swin_base.pth')
    with pytest.raises(UserError, match='either pretrained or init_cfg'):
        small_model(pretrained=path, init_cfg=dict(type='Kaiming'))
    with pytest.raises(UserError, match=r"give the file as pretrained='pretrained/swin_base\.pth'"):
        small_model(init_cfg=dict(type='Pretrained', checkpoint='pretrained/swin_base.pth'))
    text = tmp_path / 'notes.pth'
    text.write_text('not weights')
    model = small_model(pretrained=str(text))
    with pytest.raises(UserError, match='is not a PyTorch checkpoint'):
        model.init_weights()
    vit = {'cls_token': torch.zeros(1, 1, 8), 'blocks.0.attn.q_bias': torch.zeros(8)}
    with pytest.raises(UserError, match=r'vit\.pth holds BEiT weights \(--family beit\), not Swin weights'):
        swin_state_dict(vit, 'vit.pth')
    with pytest.raises(UserError, match=r'x\.pth holds no Swin weights') as error:
        swin_state_dict({'x': torch.zeros(1)}, 'x.pth')
    assert '\n' not in str(error.value)


def test_forward_and_backward_on_the_cpu():
    torch.manual_seed(0)
    model = small_model(drop_path_rate=0.1)
    model.init_weights()
    outs = model(torch.randn(1, 3, 40, 56))  # not multiples of the window: mmseg pads
    assert [o.shape[1] for o in outs] == [12, 24, 48, 96]
    assert [tuple(o.shape[2:]) for o in outs] == [(20, 28), (10, 14), (5, 7), (3, 4)]
    sum(o.square().mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
