"""Released DAFormer/HRDA/MIC checkpoints (mmseg 0.x key names) load into this project's models: through
load_segmentor_weights (test.sh, merge.py), DasegRunner's load_from, and tools/convert_checkpoint.py.

The checkpoints are written here with the original key names and shapes (reference/ORIGINALS.md section 5),
built independently of our modules."""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from daseg.weights import load_checkpoint_file, load_segmentor_weights, segmentor_state_dict
from daseg.cli import load_config
from daseg.errors import UserError
from test_models_mit import DEPTHS, WIDTHS, random_reference

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('convert_checkpoint', ROOT / 'tools' / 'convert_checkpoint.py')
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

PREFIXES = ('model.', 'ema_model.', 'imnet_model.')
B0_CONFIG = '_base_/models/daformer_sepaspp_mitb0.py'


# Small convolutions on big models: on a busy 2-core machine a second thread only waits (measured: 36 s
# with 2 threads, 14 s with 1 for both files).
pytestmark = pytest.mark.usefixtures('one_thread')


# ---------------------------------------------------------------------------------------------------------------
# Original key names and shapes
# ---------------------------------------------------------------------------------------------------------------

def ln(prefix, c):
    return {f'{prefix}.weight': (c,), f'{prefix}.bias': (c,)}


def linear(prefix, c_out, c_in):
    return {f'{prefix}.weight': (c_out, c_in), f'{prefix}.bias': (c_out,)}


def conv(prefix, c_out, c_in, k, bias=True):
    return {f'{prefix}.weight': (c_out, c_in, k, k), **({f'{prefix}.bias': (c_out,)} if bias else {})}


def bn(prefix, c):
    return {**{f'{prefix}.{p}': (c,) for p in ('weight', 'bias', 'running_mean', 'running_var')},
            f'{prefix}.num_batches_tracked': ()}


def original_mit_keys(arch):
    """``backbone.*`` of a released DAFormer MiT: patch_embed{s}, block{s}.{j} (q, kv, proj, sr + norm on stages
    1-3, mlp.fc1, mlp.dwconv.dwconv, mlp.fc2) and norm{s}."""
    keys, in_ch = {}, 3
    for s, (c, depth, sr) in enumerate(zip(WIDTHS[arch], DEPTHS[arch], (8, 4, 2, 1)), 1):
        keys |= conv(f'patch_embed{s}.proj', c, in_ch, 7 if s == 1 else 3) | ln(f'patch_embed{s}.norm', c)
        for j in range(depth):
            p = f'block{s}.{j}'
            keys |= ln(f'{p}.norm1', c) | linear(f'{p}.attn.q', c, c) | linear(f'{p}.attn.kv', 2 * c, c)
            keys |= linear(f'{p}.attn.proj', c, c)
            if sr > 1:
                keys |= conv(f'{p}.attn.sr', c, c, sr) | ln(f'{p}.attn.norm', c)
            keys |= ln(f'{p}.norm2', c) | linear(f'{p}.mlp.fc1', 4 * c, c) | linear(f'{p}.mlp.fc2', c, 4 * c)
            keys |= {f'{p}.mlp.dwconv.dwconv.weight': (4 * c, 1, 3, 3), f'{p}.mlp.dwconv.dwconv.bias': (4 * c,)}
        keys |= ln(f'norm{s}', c)
        in_ch = c
    return {f'backbone.{k}': v for k, v in keys.items()}


def original_daformer_head_keys(in_channels, c=256, num_classes=19):
    """``decode_head.*`` of the final DAFormer head (sep-ASPP fusion, dilations 1, 6, 12, 18)."""
    keys = {}
    for i, c_in in enumerate(in_channels):
        keys |= linear(f'embed_layers.{i}.proj', c, c_in)
    fused = 4 * c
    keys |= conv('fuse_layer.aspp_modules.0.conv', c, fused, 1, bias=False) | bn('fuse_layer.aspp_modules.0.bn', c)
    for i in (1, 2, 3):
        p = f'fuse_layer.aspp_modules.{i}'
        keys |= {f'{p}.depthwise_conv.conv.weight': (fused, 1, 3, 3)} | bn(f'{p}.depthwise_conv.bn', fused)
        keys |= conv(f'{p}.pointwise_conv.conv', c, fused, 1, bias=False) | bn(f'{p}.pointwise_conv.bn', c)
    keys |= conv('fuse_layer.bottleneck.conv', c, 4 * c, 3, bias=False) | bn('fuse_layer.bottleneck.bn', c)
    keys |= conv('conv_seg', num_classes, c, 1)
    return {f'decode_head.{k}': v for k, v in keys.items()}


def random_values(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(40000)
        elif key.endswith('running_var'):
            out[key] = 0.5 + torch.rand(shape, generator=g)
        elif len(shape) == 1:
            out[key] = 0.5 + 0.3 * torch.randn(shape, generator=g)
        else:
            out[key] = torch.randn(shape, generator=g) / torch.Size(shape[1:]).numel() ** 0.5
    return out


def released_uda(segmentor, mic_teacher=True):
    """A DAFormer/MIC training checkpoint: student, teacher and ImageNet model, meta and optimizer state."""
    state = {f'{p}{k}': v for p, sd in zip(PREFIXES, segmentor) for k, v in sd.items()}
    if mic_teacher:
        state |= {f'mic.teacher.ema_model.{k}': v for k, v in segmentor[1].items()}
    return {'meta': {'iter': 40000, 'exp_name': 'gta2cs_daformer', 'CLASSES': ('road', 'sidewalk'),
                     'config': "model = dict(type='EncoderDecoder')"},
            'state_dict': state,
            'optimizer': {'state': {0: {'step': torch.tensor(40000.), 'exp_avg': torch.zeros(3)}},
                          'param_groups': [{'lr': 6e-5, 'betas': (0.9, 0.999), 'params': [0]}]}}


def build(config=B0_CONFIG):
    init_default_scope('mmseg')
    cfg = load_config(str(ROOT / 'configs' / config))
    cfg.model.backbone.pretrained = None
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def b0_released():
    """Three different B0 DAFormers in the released layout, with the reference MiT of each backbone."""
    refs = [random_reference('b0', seed=s) for s in (0, 1, 2)]
    # Two independent writings of the original layout agree: the reference module and the key list.
    assert {f'backbone.{k}': tuple(v.shape) for k, v in refs[0].state_dict().items()} == original_mit_keys('b0')
    head_keys = original_daformer_head_keys(WIDTHS['b0'])
    sds = [dict({f'backbone.{k}': v for k, v in ref.state_dict().items()}, **random_values(head_keys, s))
           for s, ref in enumerate(refs)]
    return refs, sds


def save(tmp_path, ckpt, name='released.pth'):
    path = tmp_path / name
    torch.save(ckpt, path)
    return str(path)


# ---------------------------------------------------------------------------------------------------------------
# Key completeness (MiT-B5) and function (MiT-B0)
# ---------------------------------------------------------------------------------------------------------------

def test_b5_uda_checkpoint_has_every_key_of_our_model(tmp_path):
    keys = original_mit_keys('b5') | original_daformer_head_keys(WIDTHS['b5'])
    # One distinct constant per sub-model, stored as an expanded scalar: the file stays small.
    sds = [{k: torch.tensor(float(i)).expand(shape) for k, shape in keys.items()} for i in (1, 2, 3)]
    path = save(tmp_path, released_uda(sds))
    model = build('_base_/models/daformer_sepaspp_mitb5.py')
    assert sum(v.numel() for v in sds[0].values()) == sum(v.numel() for v in model.state_dict().values())
    assert load_segmentor_weights(model, path, 'teacher')['iter'] == 40000  # strict: no missing/unexpected key
    assert (model.decode_head.conv_seg.bias == 2.0).all()
    assert (model.backbone.layers[2][1][39].attn.attn.in_proj_weight == 2.0).all()


def test_b0_uda_checkpoint_computes_the_original_function(tmp_path, b0_released):
    refs, sds = b0_released
    path = save(tmp_path, released_uda(sds))
    model = build()
    # Odd sizes exercise the patch-embedding padding.
    x = torch.randn(1, 3, 38, 50, generator=torch.Generator().manual_seed(5))
    for which, ref, sd in (('student', refs[0], sds[0]), ('teacher', refs[1], sds[1])):
        load_segmentor_weights(model, path, which)
        model.eval()
        with torch.no_grad():
            for out, ref_out in zip(model.extract_feat(x), ref(x)):
                torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-4)
        head = model.decode_head.state_dict()
        assert all(torch.equal(head[k[len('decode_head.'):]], v) for k, v in sd.items() if k.startswith('decode_head.'))


def test_unknown_and_missing_keys_are_named(tmp_path, b0_released):
    _, sds = b0_released
    sd = dict(sds[0])
    del sd['decode_head.conv_seg.bias']
    sd['decode_head.extra_layer.weight'] = torch.zeros(1)
    path = save(tmp_path, released_uda([sd, sd, sd]), 'bad_head.pth')
    with pytest.raises(UserError, match=r'bad_head\.pth does not fit the model .*1 missing keys '
                                        r'\(decode_head\.conv_seg\.bias\), 1 unexpected keys '
                                        r'\(decode_head\.extra_layer\.weight\)'):
        load_segmentor_weights(build(), path)
    sd = dict(sds[0], **{'backbone.block1.0.attn.gate.weight': torch.zeros(1)})
    path = save(tmp_path, {'state_dict': sd}, 'bad_mit.pth')
    with pytest.raises(UserError, match=r'bad_mit\.pth: unexpected key in MiT weights: block1\.0\.attn\.gate\.weight'):
        load_segmentor_weights(build(), path)


# ---------------------------------------------------------------------------------------------------------------
# DasegRunner load_from
# ---------------------------------------------------------------------------------------------------------------

def expected_state(model, released_sd):
    """Our segmentor's state after the strict load path of test.sh (checked against the reference above)."""
    model.load_state_dict(segmentor_state_dict({'state_dict': released_sd}), strict=True)
    return {k: v.clone() for k, v in model.state_dict().items()}


def runner_for(tmp_path, **uda):
    from daseg.engine.runner import DasegRunner
    init_default_scope('mmseg')
    cfg = load_config(str(ROOT / 'configs' / B0_CONFIG))
    cfg.model.backbone.pretrained = 'pretrained/mit_b0.pth'  # DACS asks for it; load_from does not read it
    dacs = dict(type='DACS', model=cfg.model.to_dict(), imnet_feature_dist_lambda=0.005, **uda)
    return DasegRunner(model=dacs, work_dir=str(tmp_path / 'work'), default_scope='mmseg',
                       log_level='WARNING')


def test_load_from_released_uda_checkpoint_fills_all_three(tmp_path, b0_released):
    _, sds = b0_released
    runner = runner_for(tmp_path)
    runner.load_checkpoint(save(tmp_path, released_uda(sds)))
    wrapper = runner.model
    segmentor = build()
    for name, sd in zip(('model', 'ema_model', 'imnet_model'), sds):
        expected = expected_state(segmentor, sd)
        got = getattr(wrapper, name).state_dict()
        assert all(torch.equal(got[k], v) for k, v in expected.items()), name


def test_released_mic_checkpoint_keeps_its_mic_teacher(tmp_path, b0_released):
    """MIC with its own EMA teacher: mic.teacher.ema_model.* load into that teacher, no key missing or left over."""
    from daseg.weights import convert_legacy_keys
    _, sds = b0_released
    mic = dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha=0.9,
               mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=32))
    runner = runner_for(tmp_path, components=[mic])
    ckpt = released_uda(sds, mic_teacher=True)
    converted = convert_legacy_keys(ckpt['state_dict'])
    result = runner.model.load_state_dict(converted, strict=False)
    assert not result.missing_keys and not result.unexpected_keys
    runner.load_checkpoint(save(tmp_path, ckpt))
    expected = expected_state(build(), sds[1])  # the released MIC teacher is the DACS teacher's copy here
    got = runner.model.mic.teacher.ema_model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in expected.items())
    assert [sub.name for sub, _ in runner.model.sub_models()] == ['student', 'teacher', 'imagenet', 'mic_teacher']


def test_load_from_released_plain_checkpoint_fills_the_student(tmp_path, b0_released):
    _, sds = b0_released
    runner = runner_for(tmp_path)
    teacher_before = {k: v.clone() for k, v in runner.model.ema_model.state_dict().items()}
    runner.load_checkpoint(save(tmp_path, {'meta': {'iter': 40000}, 'state_dict': sds[0]}))
    expected = expected_state(build(), sds[0])
    got = runner.model.model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in expected.items())
    # The teacher becomes a copy of the student at iteration 0; load_from leaves it alone.
    assert all(torch.equal(runner.model.ema_model.state_dict()[k], v) for k, v in teacher_before.items())


# ---------------------------------------------------------------------------------------------------------------
# tools/convert_checkpoint.py
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def released_file(tmp_path, b0_released):
    _, sds = b0_released
    return save(tmp_path, released_uda(sds)), sds


def test_tool_writes_the_student_and_reports(tmp_path, released_file, capsys):
    src, sds = released_file
    dst = tmp_path / 'out' / 'daformer_b0.pth'
    dst.parent.mkdir()
    assert tool.main([src, str(dst), '--config', str(ROOT / 'configs' / B0_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert 'converted MiT backbone(s) from the original SegFormer layout: model.backbone., ema_model.backbone., ' \
           'imnet_model.backbone.' in out
    assert 'mic.teacher.ema_model.* (' in out and 'not the student' in out and 'optimizer (training state)' in out
    assert 'ema_model.* (' in out and 'imnet_model.* (' in out and f'to {dst}' in out
    ckpt = load_checkpoint_file(str(dst))
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['iter'] == 40000 and ckpt['meta']['converted_from'] == 'released.pth'
    assert not any(k.startswith(('model.', 'mic.', 'ema_model.')) for k in ckpt['state_dict'])
    model = build()
    load_segmentor_weights(model, str(dst))
    assert model.state_dict().keys() == ckpt['state_dict'].keys()
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # written atomically, nothing left over


def test_tool_teacher_and_all(tmp_path, released_file, capsys):
    src, sds = released_file
    teacher, everything = str(tmp_path / 'teacher.pth'), str(tmp_path / 'all.pth')
    assert tool.main([src, teacher, '--which', 'teacher']) == 0
    assert tool.main([src, everything, '--which', 'all']) == 0
    capsys.readouterr()
    sd_all = load_checkpoint_file(everything)['state_dict']
    assert {k.split('.')[0] for k in sd_all} == {'model', 'ema_model', 'imnet_model', 'mic'}
    sd_teacher = load_checkpoint_file(teacher)['state_dict']
    assert sd_teacher.keys() == {k[len('ema_model.'):] for k in sd_all if k.startswith('ema_model.')}
    assert all(torch.equal(v, sd_all[f'ema_model.{k}']) for k, v in sd_teacher.items())
    assert torch.equal(sd_teacher['decode_head.conv_seg.weight'], sds[1]['decode_head.conv_seg.weight'])


def test_tool_refuses_to_overwrite_and_reports_mismatches(tmp_path, released_file, capsys):
    src, _ = released_file
    dst = tmp_path / 'dst.pth'
    dst.write_bytes(b'keep')
    with pytest.raises(SystemExit) as exit_info:
        tool.main([src, str(dst)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith('error: ') and err.count('\n') == 1
    assert 'dst.pth exists; pass --force' in err and dst.read_bytes() == b'keep'
    assert tool.main([src, str(dst), '--force']) == 0
    capsys.readouterr()

    other = str(tmp_path / 'other.pth')
    with pytest.raises(SystemExit):
        tool.main([src, other, '--config', str(ROOT / 'configs/_base_/models/deeplabv2red_r101v1c.py')])
    err = capsys.readouterr().err
    assert 'does not fit the model of' in err and 'missing keys (backbone.stem.0.weight,' in err
    assert 'unexpected keys (backbone.layers.0.0.projection.weight,' in err
    assert not Path(other).exists()
    plain = save(tmp_path, {'state_dict': released_file[1][0]}, 'plain.pth')
    with pytest.raises(SystemExit):
        tool.main([plain, other, '--which', 'teacher'])
    assert 'plain segmentor, it has no teacher' in capsys.readouterr().err


def test_checkpoint_of_the_dacs_before_the_composed_wrapper_loads(tmp_path):
    """The key names and shapes of a checkpoint written by DACS as it was before it became a preset of components
    (recorded from that code): they fill the composed DACS exactly, and training goes on from them."""
    import json

    from speed_models import batch, build_dacs, sgd, step
    recorded = json.loads((ROOT / 'tests/fixtures/dacs_001e559_keys.json').read_text())['state_dict_shapes']
    g = torch.Generator().manual_seed(0)
    state = {k: (torch.tensor(7) if k.endswith('num_batches_tracked') else torch.rand(shape, generator=g))
             for k, shape in recorded.items()}
    model = build_dacs(size=(32, 32))
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.ema_model.decode_head.conv_seg.weight, state['ema_model.decode_head.conv_seg.weight'])
    log = step(model, sgd(model), batch((32, 32)), 3)
    assert torch.isfinite(log['loss'])
