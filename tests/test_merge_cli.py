"""merge.py end to end: merged values, metadata, separate heads, released key names, bad input, and
Model-Merging-MTDA's flags as aliases."""
import hashlib
import os
import shlex
import subprocess
import sys

import pytest
import torch

from daseg.weights import load_checkpoint_file
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
    from daseg.weights.mit_keys import convert_segmentor_state_dict
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


def _uda_with_imagenet(path, student, imagenet):
    state = {f'model.{k}': v for k, v in student.items()}
    state.update({f'imnet_model.{k}': v for k, v in imagenet.items()})
    torch.save({'state_dict': state}, path)
    return str(path)


def test_base_imagenet_is_the_shared_imagenet_model(tmp_path, models, capsys, monkeypatch):
    a = _uda_with_imagenet(tmp_path / 'a.pth', models[0], models[2])
    b = _uda_with_imagenet(tmp_path / 'b.pth', models[1], models[2])
    out = merge_checkpoints([a, b], str(tmp_path / 'm.pth'), params='task-arithmetic', base='imagenet',
                            scaling=0.5, **QUIET)[0]
    ckpt = load_checkpoint_file(out)
    key = 'backbone.layer1.0.conv1.weight'
    torch.testing.assert_close(ckpt['state_dict']['model.' + key], (models[0][key] + models[1][key]) / 2)
    assert ckpt['meta']['merge']['base']['imagenet_model_of_inputs'] is True

    differs = _uda_with_imagenet(tmp_path / 'c.pth', models[1], models[0])
    plain = _uda_checkpoint(tmp_path / 'plain.pth', models[1], models[1])
    line = _error([a, differs, '--params', 'ties', '--base', 'imagenet', '--out', 'x.pth'], tmp_path, capsys,
                  monkeypatch)
    assert 'the ImageNet model of' in line and 'c.pth differs from that of' in line
    line = _error([a, plain, '--params', 'dare', '--base', 'imagenet', '--out', 'x.pth'], tmp_path, capsys,
                  monkeypatch)
    assert 'plain.pth holds no ImageNet model (imnet_model.*' in line
    assert not list(tmp_path.glob('x.pth*'))


def test_the_same_input_twice_is_refused_unless_allowed(tmp_path, models, capsys, monkeypatch):
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    (tmp_path / 'copy.pth').write_bytes(open(a, 'rb').read())
    line = _error([a, b, a, '--out', 'm.pth'], tmp_path, capsys, monkeypatch)
    assert 'a.pth is the same file as' in line and '--allow-duplicates' in line
    line = _error([a, 'copy.pth', '--out', 'm.pth'], tmp_path, capsys, monkeypatch)
    assert 'copy.pth has the same content as' in line
    MERGE.main([a, a, '--allow-duplicates', '--out', str(tmp_path / 'm.pth')])
    assert (tmp_path / 'm.pth').is_file()


def test_out_naming_a_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    (tmp_path / 'folder').mkdir()
    # The inputs do not even exist: the output is checked first.
    line = _error(['missing.pth', 'other.pth', '--out', 'folder'], tmp_path, capsys, monkeypatch)
    assert line == f'error: --out folder is a folder; name the output file, e.g. {os.path.join("folder", "merged.pth")}'


def test_an_output_created_meanwhile_is_kept_and_the_merge_refused(tmp_path, models, monkeypatch):
    """Another writer creates --out after this merge checked it: the no-replace write keeps the other's file."""
    import daseg.merging.merger as merger
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    merge_pass = merger._merge_pass

    def other_writer_first(*args, **kwargs):
        (tmp_path / 'm.pth').write_bytes(b'the other merge')
        return merge_pass(*args, **kwargs)

    monkeypatch.setattr(merger, '_merge_pass', other_writer_first)
    with pytest.raises(UserError, match='refusing to overwrite .*m.pth'):
        merge_checkpoints([a, b], str(tmp_path / 'm.pth'), **QUIET)
    assert (tmp_path / 'm.pth').read_bytes() == b'the other merge'
    assert not list(tmp_path.glob('.*.part'))


def test_two_concurrent_merges_to_one_output(tmp_path, models):
    paths = [_uda_checkpoint(tmp_path / f'{k}.pth', models[k], models[k]) for k in range(3)]
    runs = [subprocess.Popen([sys.executable, str(ROOT / 'merge.py'), *inputs, '--out', 'm.pth'], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for inputs in (paths[:2], paths[1:])]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert sorted(code for code, _ in results) == [0, 2], results
    code, err = next(r for r in results if r[0] == 2)
    assert len(err.strip().splitlines()) == 1 and err.startswith('error: '), err
    assert 'refusing to overwrite' in err or 'm.pth exists' in err
    winner = results.index(next(r for r in results if r[0] == 0))
    first, second = (0, 1) if winner == 0 else (1, 2)
    key = 'backbone.layer2.0.conv2.weight'
    state = load_checkpoint_file(str(tmp_path / 'm.pth'))['state_dict']
    torch.testing.assert_close(state['model.' + key], (models[first][key] + models[second][key]) / 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['0.pth', '1.pth', '2.pth', 'm.pth']


def _recalibration_setup(tmp_path, n_images=3):
    from mmengine.config import Config
    from PIL import Image
    from merging_models import RESNET, WIDTHS, daformer_head
    images = tmp_path / 'target' / 'city'
    images.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for i in range(n_images):
        pixels = torch.randint(0, 256, (32, 48, 3), generator=gen, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(images / f'{i}.png')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    cfg = Config(dict(default_scope='mmseg',
                      model=dict(type='EncoderDecoder', backbone=RESNET, decode_head=daformer_head(WIDTHS),
                                 data_preprocessor=dict(type='SegDataPreProcessor')),
                      eval_targets=dict(t=dict(type='CityscapesDataset', data_root=str(tmp_path), pipeline=pipeline))))
    cfg.dump(str(tmp_path / 'cfg.py'))
    return str(tmp_path / 'cfg.py'), sorted(images.iterdir())


def test_recalibrate_bn_reestimates_the_statistics_on_target_images(tmp_path, models):
    import numpy as np
    from PIL import Image
    config, images = _recalibration_setup(tmp_path)
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    plain = load_checkpoint_file(merge_checkpoints([a, b], str(tmp_path / 'plain.pth'), **QUIET)[0])
    assert plain['meta']['merge']['data_used'] is None  # off by default
    args = MERGE.parse_args([a, b, '--out', 'm.pth', '--recalibrate-bn', str(tmp_path / 'target'), '--config', config])
    out = merge_checkpoints([a, b], str(tmp_path / 'm.pth'), recalibrate=MERGE.recalibrator(args, config), **QUIET)[0]
    ckpt = load_checkpoint_file(out)
    state = ckpt['state_dict']
    # The first BatchNorm (after the first stem convolution) by hand: a cumulative average over the images
    # (loaded as BGR, no normalisation in this config) of each image's mean and unbiased variance.
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
    conv.weight.data = state['model.backbone.stem.0.weight']
    means, variances = [], []
    with torch.no_grad():
        for path in images:
            bgr = np.asarray(Image.open(path).convert('RGB'))[..., ::-1].copy()
            x = conv(torch.from_numpy(bgr).permute(2, 0, 1).float()[None])
            means.append(x.mean((0, 2, 3)))
            variances.append(x.var((0, 2, 3), unbiased=True))
    torch.testing.assert_close(state['model.backbone.stem.1.running_mean'], torch.stack(means).mean(0))
    torch.testing.assert_close(state['model.backbone.stem.1.running_var'], torch.stack(variances).mean(0))
    assert int(state['model.backbone.stem.1.num_batches_tracked']) == len(images)
    key = 'decode_head.fuse_layer.bottleneck.bn.running_var'
    assert not torch.allclose(state['model.' + key], plain['state_dict']['model.' + key])
    data = ckpt['meta']['merge']['data_used']
    assert 'target images (no labels)' in data['what'] and data['folders'][0]['images'] == len(images)
    torch.testing.assert_close(state['model.backbone.layer1.0.conv1.weight'],
                               plain['state_dict']['model.backbone.layer1.0.conv1.weight'])


def test_recalibrate_bn_bad_input_gives_one_line(tmp_path, models, capsys, monkeypatch):
    config, _ = _recalibration_setup(tmp_path)
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[0])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    (tmp_path / 'empty').mkdir()
    assert 'needs --config' in _error([a, b, '--recalibrate-bn', 'target', '--out', 'm.pth'], tmp_path, capsys,
                                      monkeypatch)
    line = _error([a, b, '--recalibrate-bn', 'empty', '--config', config, '--out', 'm.pth'], tmp_path, capsys,
                  monkeypatch)
    assert 'no images' in line and 'empty' in line
    assert '--config applies to --recalibrate-bn only' in _error([a, b, '--config', config, '--out', 'm.pth'],
                                                                tmp_path, capsys, monkeypatch)


def test_model_merging_mtda_flags_run_the_same_merge(tmp_path, models, capsys, monkeypatch):
    """The original README's command: one deprecation line that shows the new command, which merges the same."""
    monkeypatch.chdir(tmp_path)
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[2])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    capsys.readouterr()
    MERGE.main(['--model_num', '2', '--model_1', a, '--model_2', b, '--merge_mode', 'liner_merge', '--merge_buffer',
                '--save_name', 'old.pth'])
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["merge.py: Model-Merging-MTDA's flags are deprecated; the same merge: "
                     f'python merge.py {a} {b} --params linear --buffers gaussian --out old.pth']
    command = shlex.split(lines[0].split('the same merge: ')[1])
    MERGE.main(command[2:-1] + ['new.pth'])
    old, new = (load_checkpoint_file(str(tmp_path / name))['state_dict'] for name in ('old.pth', 'new.pth'))
    assert list(old) == list(new)
    assert all(old[k].dtype == new[k].dtype and torch.equal(old[k], new[k]) for k in old)
    bn = 'decode_head.fuse_layer.bottleneck.bn.'  # --merge_buffer: pooled by num_batches_tracked
    n = [int(m[bn + 'num_batches_tracked']) for m in models[:2]]
    mean = sum(k * m[bn + 'running_mean'] for k, m in zip(n, models)) / sum(n)
    torch.testing.assert_close(old['model.' + bn + 'running_mean'], mean)


def test_model_merging_mtda_weight_and_model_1_statistics(tmp_path, models, capsys, monkeypatch):
    """Without --merge_buffer the original keeps model 1's BatchNorm statistics; --weight w is w * m1 + (1-w) * m2."""
    monkeypatch.chdir(tmp_path)
    a = _uda_checkpoint(tmp_path / 'a.pth', models[0], models[2])
    b = _uda_checkpoint(tmp_path / 'b.pth', models[1], models[1])
    MERGE.main(['--model_1', a, '--model_2', b, '--merge_mode', 'liner_merge', '--weight', '0.3',
                '--save_name', 'w.pth'])
    assert '--buffers first --weights 0.3 0.7 --out w.pth' in capsys.readouterr().err
    state = load_checkpoint_file(str(tmp_path / 'w.pth'))['state_dict']
    key = 'backbone.layer2.0.conv2.weight'
    torch.testing.assert_close(state['model.' + key], 0.3 * models[0][key] + 0.7 * models[1][key])
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        key = f'decode_head.fuse_layer.bottleneck.bn.{name}'
        assert torch.equal(state['model.' + key], models[0][key])
    _assert_state_close(state, models[2], 'ema_model.')  # the teacher is model 1's, as in the original


def test_model_merging_mtda_flag_translation(capsys):
    assert MERGE.translate_legacy(['a', 'b', '--out', 'm.pth']) == ['a', 'b', '--out', 'm.pth']
    assert MERGE.translate_legacy(['--model_num', '3', '--model_1', 'a', '--model_2', 'b', '--model_3', 'c',
                                   '--merge_mode', 'git_rebasin', '--sep_head', '--save_name', 'm.pth', '--force']) \
        == ['a', 'b', 'c', '--force', '--params', 'rebasin', '--buffers', 'first', '--sep-heads', '--out', 'm.pth']
    assert MERGE.translate_legacy(['--model_num', '3', '--model_1', 'a', '--model_2', 'b', '--model_3', 'c',
                                   '--weight', '0.25'])[-4:] == ['--weights', '0.25', '0.25', '0.25']
    for argv, message in ((['--model_num', '3', '--model_1', 'a', '--model_2', 'b'],
                           '--model_num 3 needs --model_1 .. --model_3 (and no more)'),
                          (['--model_1', 'a', '--model_2', 'b', '--save_name', 'x', '--out', 'y'],
                           '--save_name and --out set the same option; give one of them')):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            MERGE.translate_legacy(argv)
        assert stop.value.code == 2 and capsys.readouterr().err == f'merge.py: error: {message}\n'
