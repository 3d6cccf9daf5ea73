"""Checkpoint reading (weights only), sub-model selection, strict loading, atomic saving."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from torch import nn

from daseg.weights import (find_latest_checkpoint, load_checkpoint_file, load_segmentor_weights,
                              save_checkpoint_atomic, segmentor_state_dict)
from daseg.errors import UserError


def _tensor(value):
    return torch.full((2,), float(value))


def test_uda_checkpoint_selects_student_or_teacher_and_drops_the_rest():
    state = {'model.backbone.w': _tensor(1), 'model.decode_head.w': _tensor(2), 'ema_model.backbone.w': _tensor(3),
             'ema_model.decode_head.w': _tensor(4), 'imnet_model.backbone.w': _tensor(5)}
    student = segmentor_state_dict({'state_dict': state, 'meta': {}})
    teacher = segmentor_state_dict({'state_dict': state}, which='teacher')
    assert sorted(student) == sorted(teacher) == ['backbone.w', 'decode_head.w']
    assert student['backbone.w'][0] == 1 and teacher['backbone.w'][0] == 3


def test_module_prefix_is_stripped_and_plain_segmentors_pass_through():
    plain = {'module.backbone.w': _tensor(1), 'module.decode_head.w': _tensor(2)}
    assert sorted(segmentor_state_dict(plain)) == ['backbone.w', 'decode_head.w']
    wrapped = {'module.model.backbone.w': _tensor(1), 'module.ema_model.backbone.w': _tensor(2)}
    assert segmentor_state_dict({'state_dict': wrapped}, 'teacher')['backbone.w'][0] == 2
    with pytest.raises(UserError, match='plain segmentor.*no teacher'):
        segmentor_state_dict(plain, 'teacher')
    with pytest.raises(UserError, match=r'no teacher weights \(ema_model'):
        segmentor_state_dict({'model.backbone.w': _tensor(1), 'imnet_model.backbone.w': _tensor(2)}, 'teacher')
    with pytest.raises(UserError, match='no state_dict'):
        segmentor_state_dict({'meta': {'iter': 1}})


def test_original_mit_keys_go_through_the_converter(monkeypatch):
    from daseg.weights import released
    seen = {}

    def fake_convert(state_dict):
        seen.update(state_dict)
        return {'converted': torch.zeros(1)}

    monkeypatch.setattr(released, 'convert_segmentor_state_dict', fake_convert)
    state = {'model.backbone.patch_embed1.proj.weight': _tensor(1), 'model.decode_head.conv_seg.weight': _tensor(2)}
    assert list(segmentor_state_dict({'state_dict': state})) == ['converted']
    assert sorted(seen) == ['backbone.patch_embed1.proj.weight', 'decode_head.conv_seg.weight']
    assert list(segmentor_state_dict({'backbone.layers.0.0.projection.weight': _tensor(1)})) == [
        'backbone.layers.0.0.projection.weight']


def test_released_checkpoint_with_original_mit_keys_loads(tmp_path):
    from mmseg.models.backbones import MixVisionTransformer

    from daseg.weights.mit_keys import convert_segmentor_state_dict

    class Segmentor(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = MixVisionTransformer(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])
            self.decode_head = nn.Conv2d(8, 19, 1)

    source = Segmentor()
    released = convert_segmentor_state_dict(source.state_dict(), target='original')
    assert 'backbone.patch_embed1.proj.weight' in released
    path = str(tmp_path / 'daformer.pth')
    torch.save({'state_dict': {f'model.{k}': v for k, v in released.items()}}, path)
    target = Segmentor()
    load_segmentor_weights(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


class _Small(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.backbone = nn.Conv2d(3, width, 1)
        self.decode_head = nn.BatchNorm2d(width)


def test_strict_load_roundtrip_and_architecture_mismatch(tmp_path):
    source = _Small()
    path = str(tmp_path / 'uda.pth')
    torch.save({'state_dict': {f'model.{k}': v for k, v in source.state_dict().items()}, 'meta': {'iter': 8}}, path)
    target = _Small()
    assert load_segmentor_weights(target, path) == {'iter': 8}
    assert torch.equal(target.backbone.weight, source.backbone.weight)

    shapes = r'backbone.weight has shape \(4, 3, 1, 1\) in the checkpoint, \(6, 3, 1, 1\) in the model'
    with pytest.raises(UserError, match=shapes) as err:
        load_segmentor_weights(_Small(width=6), path)
    assert 'uda.pth' in str(err.value)

    other = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(UserError) as err:
        load_segmentor_weights(other, path)
    message = str(err.value)
    assert 'uda.pth' in message and '2 missing keys (0.weight, 0.bias)' in message
    assert '7 unexpected keys (backbone.weight, backbone.bias, decode_head.weight, ...)' in message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match='checkpoint not found: .*nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(UserError, match='notes.pth is not a PyTorch checkpoint'):
        load_checkpoint_file(str(text))
    listed = tmp_path / 'list.pth'
    torch.save([1, 2], str(listed))
    with pytest.raises(UserError, match='list.pth holds a list'):
        load_checkpoint_file(str(listed))


class _RunsCode:
    """Unpickling this would create a file: exactly what weights_only must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mknod, (self.marker,)


class _AsksForInit:
    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_code_in_a_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'marker'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': _RunsCode(str(marker))}, path)
    with pytest.raises(UserError, match='evil.pth cannot be loaded as weights only'):
        load_checkpoint_file(path)
    assert not marker.exists()
    torch.save({'payload': _AsksForInit()}, path)
    with pytest.raises(UserError, match='cannot be loaded as weights only'):
        load_checkpoint_file(path)


def test_mmengine_training_checkpoint_loads(tmp_path):
    buffer = HistoryBuffer([1.0, 3.0], [1, 1])
    path = str(tmp_path / 'iter_2.pth')
    torch.save({'meta': {'iter': 2, 'eta': np.float64(1.5)}, 'state_dict': {'w': torch.ones(1)},
                'message_hub': {'log_scalars': {'loss': buffer}, 'runtime_info': {'x': np.arange(3)}}}, path)
    ckpt = load_checkpoint_file(path)
    assert ckpt['meta']['eta'] == 1.5
    assert ckpt['message_hub']['log_scalars']['loss'].mean() == 2.0


def test_find_latest_checkpoint(tmp_path):
    for n in (9, 10, 2):
        torch.save({'state_dict': {'w': torch.ones(1)}}, tmp_path / f'iter_{n}.pth')
    assert find_latest_checkpoint(str(tmp_path)).endswith('iter_10.pth')
    # The highest complete iter_N.pth wins over an older last_checkpoint (a kill between the two writes).
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/work_dir/iter_9.pth')
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    # A truncated or empty file is no checkpoint.
    data = (tmp_path / 'iter_10.pth').read_bytes()
    (tmp_path / 'iter_10.pth').write_bytes(data[:len(data) // 2])
    (tmp_path / 'iter_11.pth').write_bytes(b'')
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_9.pth')
    # Without iter_*.pth, last_checkpoint names the file; a moved work dir is found by file name.
    other = tmp_path / 'other'
    other.mkdir()
    torch.save({'state_dict': {'w': torch.ones(1)}}, other / 'best.pth')
    (other / 'last_checkpoint').write_text('/elsewhere/work_dir/best.pth')
    assert find_latest_checkpoint(str(other)) == str(other / 'best.pth')
    (other / 'last_checkpoint').write_text('/elsewhere/iter_99.pth')
    with pytest.raises(UserError, match='names /elsewhere/iter_99.pth, which does not exist'):
        find_latest_checkpoint(str(other))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(UserError, match='no checkpoint in'):
        find_latest_checkpoint(str(tmp_path / 'empty'))


def test_save_checkpoint_atomic(tmp_path):
    path = str(tmp_path / 'merged.pth')
    save_checkpoint_atomic({'state_dict': {'w': torch.ones(2)}}, path)
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.ones(2))
    with pytest.raises(UserError, match='refusing to overwrite'):
        save_checkpoint_atomic({'state_dict': {}}, path)
    save_checkpoint_atomic({'state_dict': {'w': torch.zeros(2)}}, path, overwrite=True)
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.zeros(2))
    assert sorted(os.listdir(tmp_path)) == ['merged.pth']
