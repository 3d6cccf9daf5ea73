"""merge.py end to end: merged values, metadata, separate heads, released key names, and bad input."""
import hashlib
import os
import subprocess
import sys

import pytest
import torch

from daseg.checkpoint import load_checkpoint_file
from daseg.errors import UserError
from daseg.merging import merge_checkpoints
from daseg.merging.rebasin import permute, resnet_permutation_spec
from daseg.cli import run_main
from entry_points import ROOT, load_script
from merging_models import build_segmentor

QUIET = dict(log=lambda line: None)
MERGE = load_script('merge')


def _uda_checkpoint(path, student, teacher, meta=None):
    state = {f'model.{k}': v for k, v in student.items()}
    state.update({f'ema_model.{k}': v for k, v in teacher.items()})
    torch.save({'state_dict': state, 'meta': meta or {'iter': 10}, 'optimizer': {'state': {}}}, path)
    return str(path)


@pytest.fixture(scope='module')
def models():
    return [build_segmentor(seed=s).state_dict() for s in range(3)]


def _assert_state_close(actual, expected, prefix=''):
    for key, value in expected.items():
        torch.testing.assert_close(actual[prefix + key], value, rtol=1e-6, atol=1e-6, msg=key)


def test_merging_a_checkpoint_with_itself_returns_it(tmp_path, models):
    path = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[1])
    out = merge_checkpoints([path] * 3, str(tmp_path / 'm.pth'), which='all', **QUIET)[0]
    state = load_checkpoint_file(out)['state_dict']
    for prefix, expected in (('model.', models[0]), ('ema_model.', models[1])):
        for key, value in expected.items():
            if key.endswith('num_batches_tracked'):
                assert int(state[prefix + key]) == 3 * int(value)  # the counts add up
            else:
                torch.testing.assert_close(state[prefix + key], value, rtol=1e-6, atol=1e-6)


def test_weighted_average_metadata_and_teacher_from_first(tmp_path, models):
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[2])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    out = merge_checkpoints([a, b], str(tmp_path / 'm.pth'), weights=[0.25, 0.75], buffers='mean', **QUIET)[0]
    ckpt = load_checkpoint_file(out)
    state = ckpt['state_dict']
    key = 'backbone.layer2.0.conv2.weight'
    torch.testing.assert_close(state['model.' + key], 0.25 * models[0][key] + 0.75 * models[1][key])
    bn = 'decode_head.fuse_layer.bottleneck.bn.running_var'
    torch.testing.assert_close(state['model.' + bn], 0.25 * models[0][bn] + 0.75 * models[1][bn])
    _assert_state_close(state, models[2], 'ema_model.')  # the teacher is input 1's
    merge = ckpt['meta']['merge']
    assert merge['weights'] == [0.25, 0.75] and merge['params'] == 'linear' and merge['buffers'] == 'mean'
    assert merge['merged'] == ['model'] and merge['copied_from_first_input'] == ['ema_model']
    assert merge['inputs'][1]['sha256'] == hashlib.sha256(open(b, 'rb').read()).hexdigest()
    assert 'torch' in ckpt['meta']['versions']
    assert 'optimizer' not in ckpt


def test_separate_heads(tmp_path, models):
    paths = [_uda_checkpoint(tmp_path / f'{i}.pth', models[i], models[i]) for i in range(2)]
    outs = merge_checkpoints(paths, str(tmp_path / 'm.pth'), sep_heads=True, **QUIET)
    assert [os.path.basename(p) for p in outs] == ['m_head1.pth', 'm_head2.pth']
    key = 'backbone.stem.0.weight'
    for i, out in enumerate(outs):
        ckpt = load_checkpoint_file(out)
        state = ckpt['state_dict']
        torch.testing.assert_close(state['model.' + key], (models[0][key] + models[1][key]) / 2)
        _assert_state_close(state, {k: v for k, v in models[i].items() if k.startswith('decode_head.')}, 'model.')
        assert ckpt['meta']['merge']['decode_head_of_input'] == i + 1


def test_rebasin_merge_of_a_model_and_its_permuted_copy_returns_the_model(tmp_path, models):
    spec = resnet_permutation_spec({k: tuple(v.shape) for k, v in models[0].items()})
    gen = torch.Generator().manual_seed(3)
    perms = {name: torch.randperm(models[0][m[0][0]].shape[m[0][1]], generator=gen)
             for name, m in spec.groups.items()}
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', permute(spec, perms, models[0]), models[0])
    rebasin = load_checkpoint_file(merge_checkpoints([a, b], str(tmp_path / 'r.pth'), params='rebasin',
                                                     **QUIET)[0])['state_dict']
    linear = load_checkpoint_file(merge_checkpoints([a, b], str(tmp_path / 'l.pth'), **QUIET)[0])['state_dict']
    for key, value in models[0].items():
        if key.endswith('num_batches_tracked'):
            continue
        torch.testing.assert_close(rebasin['model.' + key], value, rtol=1e-6, atol=1e-6, msg=key)
    key = 'backbone.layer3.1.conv2.weight'
    assert not torch.allclose(linear['model.' + key], models[0][key])


def test_plain_and_released_mit_checkpoints(tmp_path):
    """A plain MiT segmentor in the original SegFormer key names merges with one in this project's names."""
    from daseg.models.backbones.mit_convert import convert_segmentor_state_dict
    backbone = dict(type='MiT', arch='b0', pretrained=None)
    ours = build_segmentor(backbone=backbone, in_channels=[32, 64, 160, 256], seed=0).state_dict()
    other = build_segmentor(backbone=backbone, in_channels=[32, 64, 160, 256], seed=1).state_dict()
    released = convert_segmentor_state_dict(other, target='original')
    assert 'backbone.block1.0.attn.kv.weight' in released
    torch.save({'state_dict': ours}, tmp_path / 'ours.pth')
    torch.save({'state_dict': {'model.' + k: v for k, v in released.items()}, 'meta': {'CLASSES': ('a',)}},
               tmp_path / 'released.pth')
    out = merge_checkpoints([str(tmp_path / 'ours.pth'), str(tmp_path / 'released.pth')], str(tmp_path / 'm.pth'),
                            **QUIET)[0]
    state = load_checkpoint_file(out)['state_dict']
    assert set(state) == set(ours)  # plain output, this project's names
    key = 'backbone.layers.0.1.0.attn.attn.in_proj_weight'
    torch.testing.assert_close(state[key], (ours[key] + other[key]) / 2)


def _error(args, tmp_path, capsys, monkeypatch):
    """merge.py's exit status and stderr for ``args`` (in-process: the same ``run_main`` as the script)."""
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        run_main(lambda: MERGE.main(args))
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


def test_the_script_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / 'merge.py'), 'missing.pth', 'other.pth', '--out', 'm.pth'],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr == 'error: checkpoint not found: missing.pth\n', proc.stderr


def test_bad_input_gives_one_clear_line(tmp_path, models, capsys, monkeypatch):
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    data = open(a, 'rb').read()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    torch.save({'state_dict': {'model.w': torch.zeros(1)}, 'hook': os.system}, tmp_path / 'evil.pth')
    small = build_segmentor(seed=0)
    small.decode_head.conv_seg = torch.nn.Conv2d(8, 3, 1)
    _uda_checkpoint(tmp_path / 'other.pth', small.state_dict(), small.state_dict())
    (tmp_path / 'exists.pth').write_bytes(b'keep')

    def _error_of(args):
        return _error(args, tmp_path, capsys, monkeypatch)

    assert 'would need code to load' in _error_of([a, 'evil.pth', '--out', 'm.pth'])
    assert 'cut.pth is not a PyTorch checkpoint' in _error_of([a, 'cut.pth', '--out', 'm.pth'])
    assert 'checkpoint not found: missing.pth' in _error_of([a, 'missing.pth', '--out', 'm.pth'])
    assert 'sum to 1' in _error_of([a, b, '--weights', '0.5', '0.6', '--out', 'm.pth'])
    assert 'non-negative' in _error_of([a, b, '--weights', '-0.5', '1.5', '--out', 'm.pth'])
    assert '2 checkpoints' in _error_of([a, b, '--weights', '1', '--out', 'm.pth'])
    assert 'exists.pth exists; pass --force' in _error_of([a, b, '--out', 'exists.pth'])
    mismatch = _error_of([a, 'other.pth', '--out', 'm.pth'])
    assert 'model.decode_head.conv_seg.weight has shape (3, 8, 1, 1) in other.pth and (5, 8, 1, 1)' in mismatch
    assert 'at least 2' in _error_of([a, '--out', 'm.pth'])
    assert (tmp_path / 'exists.pth').read_bytes() == b'keep'
    assert not list(tmp_path.glob('m*.pth')) and not list(tmp_path.glob('.*.part'))


def test_force_replaces_and_mit_refuses_rebasin(tmp_path, models):
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    (tmp_path / 'm.pth').write_bytes(b'old')
    merge_checkpoints([a, a], str(tmp_path / 'm.pth'), force=True, **QUIET)
    assert 'state_dict' in load_checkpoint_file(str(tmp_path / 'm.pth'))
    backbone = dict(type='MiT', arch='b0', pretrained=None)
    torch.save(build_segmentor(backbone=backbone, in_channels=[32, 64, 160, 256]).state_dict(), tmp_path / 'mit.pth')
    with pytest.raises(UserError, match='use --params linear'):
        merge_checkpoints([str(tmp_path / 'mit.pth')] * 2, str(tmp_path / 'x.pth'), params='rebasin', **QUIET)
