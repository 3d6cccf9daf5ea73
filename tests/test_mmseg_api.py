"""mmseg's own API on this project's configs and checkpoints: ``init_model`` + ``inference_model`` and
``MMSegInferencer`` predict what our own loading predicts (the student), plain segmentors take the student of UDA and
merged checkpoints, and what does not fit stops with one line."""
import logging
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from daseg.cli import load_config
from daseg.errors import UserError
from daseg.merging import merge_checkpoints
from daseg.merging.outputs import dataset_meta
from daseg.weights import load_checkpoint_file, load_segmentor_weights
from entry_points import ROOT

PLAIN = str(ROOT / 'configs/demo/gta_source_only.py')  # UDAEncoderDecoder, MiT-B0
UDA = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')  # DACS around the same segmentor
CLASSES = [f'class{i}' for i in range(19)]
# Not Cityscapes' palette, which mmseg would guess for 19 classes without dataset_meta.
META = dict(dataset_meta=dict(classes=CLASSES, palette=[[i, 2 * i, 3 * i] for i in range(19)]))


def _perturbed(state, seed):
    """Other weights of the same architecture (BatchNorm counters kept)."""
    generator = torch.Generator().manual_seed(seed)
    return {k: v + 0.1 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
            for k, v in state.items()}


def _uda_checkpoint(path, student, teacher, meta=META):
    state = {f'model.{k}': v for k, v in student.items()}
    state.update({f'ema_model.{k}': v for k, v in teacher.items()})
    torch.save({'state_dict': state, 'meta': meta}, path)
    return str(path)


def _ours(model, path, image_path, which='student'):
    """Our own path: load_segmentor_weights into a segmentor built from the config, then predict on the image as
    mmcv reads it (BGR; the demo's test pipeline does not resize)."""
    load_segmentor_weights(model, path, which)
    image = cv2.imread(image_path)
    sample = SegDataSample(metainfo=dict(img_shape=image.shape[:2], ori_shape=image.shape[:2]))
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()], data_samples=[sample])
    with torch.no_grad():
        return model.test_step(data)[0]


def _assert_same(result, expected):
    torch.testing.assert_close(result.seg_logits.data, expected.seg_logits.data, rtol=0, atol=1e-5)
    assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)


@pytest.fixture(scope='module')
def files(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp('mmseg_api')
    image = str(root / 'image.png')
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 256, (32, 64, 3), dtype=np.uint8))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(load_config(PLAIN).model).eval()  # our reference, reloaded for each checkpoint
    student = {k: v.clone() for k, v in model.state_dict().items()}
    teacher = _perturbed(student, seed=1)
    uda = _uda_checkpoint(root / 'uda.pth', student, teacher)
    expected = _ours(model, uda, image)
    # The test can tell the student from the teacher.
    assert not torch.allclose(expected.seg_logits.data, _ours(model, uda, image, 'teacher').seg_logits.data)
    return dict(root=root, image=image, uda=uda, student=student, teacher=teacher, model=model, expected=expected)


def _log_lines():
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    return lines, handler


def test_init_model_on_a_uda_config_predicts_with_the_student(files):
    model = init_model(UDA, files['uda'], device='cpu')  # init_model sets model.pretrained = None
    assert type(model).__name__ == 'DACS'
    assert model.dataset_meta == META['dataset_meta']
    _assert_same(inference_model(model, files['image']), files['expected'])


def test_plain_config_takes_the_student_of_a_uda_checkpoint(files):
    lines, handler = _log_lines()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model = init_model(PLAIN, files['uda'], device='cpu')
    finally:
        logger.removeHandler(handler)
    students = [line for line in lines if 'student' in line]
    assert students == ['UDA checkpoint: UDAEncoderDecoder takes its student (model.*), not teacher (ema_model.*)']
    assert model.dataset_meta == META['dataset_meta']
    _assert_same(inference_model(model, files['image']), files['expected'])
    inferencer = MMSegInferencer(model=PLAIN, weights=files['uda'], device='cpu', show_progress=False)
    _assert_same(inferencer(files['image'], return_datasamples=True), files['expected'])


def test_uda_config_takes_a_plain_checkpoint_as_its_student(files):
    plain = files['root'] / 'plain.pth'
    torch.save({'state_dict': files['student'], 'meta': META}, plain)
    lines, handler = _log_lines()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model = init_model(UDA, str(plain), device='cpu')
    finally:
        logger.removeHandler(handler)
    assert 'DACS: a plain segmentor checkpoint, loaded as the student (model.*) and the teacher (ema_model.*)' in lines
    assert not any('missing keys' in line for line in lines)
    _assert_same(inference_model(model, files['image']), files['expected'])
    for name, value in model.ema_model.state_dict().items():
        assert torch.equal(value, files['student'][name])
    other = files['root'] / 'plain_other_arch.pth'
    torch.save({'state_dict': dict(files['student'], **{'head.weight': torch.zeros(1)})}, other)
    with pytest.raises(UserError, match=r'does not fit the student of DACS \(another architecture\?\): 0 missing keys '
                                        r'\(none\), 1 unexpected keys \(head\.weight\)'):
        init_model(UDA, str(other), device='cpu')


def test_merged_checkpoint_carries_dataset_meta_and_loads_its_student(files):
    other = _uda_checkpoint(files['root'] / 'other.pth', _perturbed(files['student'], seed=2), files['teacher'])
    merged = merge_checkpoints([files['uda'], other], str(files['root'] / 'merged.pth'), log=lambda line: None)[0]
    assert load_checkpoint_file(merged)['meta']['dataset_meta'] == META['dataset_meta']
    model = init_model(PLAIN, merged, device='cpu')
    assert model.dataset_meta == META['dataset_meta']
    _assert_same(inference_model(model, files['image']), _ours(files['model'], merged, files['image']))
    # Released (mmseg 0.x) checkpoints record CLASSES and PALETTE; other classes than another input's are refused.
    released = files['root'] / 'released.pth'
    torch.save({'state_dict': {}, 'meta': dict(CLASSES=tuple(CLASSES[::-1]), PALETTE=[[0, 0, 0]] * 19)}, released)
    refused = re.escape(f'{released} records 19 classes (class18, ') + '.*must share one label space'
    with pytest.raises(UserError, match=refused):
        dataset_meta([files['uda'], str(released)])
    assert dataset_meta([str(released)]) == dict(classes=CLASSES[::-1], palette=[[0, 0, 0]] * 19)


def test_what_does_not_fit_a_plain_segmentor_stops_with_one_line(files):
    root, model = files['root'], files['model']
    teacher_only = root / 'teacher_only.pth'
    torch.save({'state_dict': {f'ema_model.{k}': v for k, v in files['teacher'].items()}}, teacher_only)
    with pytest.raises(UserError, match=r'no student weights \(model\.\*\) for UDAEncoderDecoder; it holds '
                                        r'ema_model\.\*'):
        load_checkpoint(model, str(teacher_only))
    other = root / 'other_arch.pth'
    state = {k: v for k, v in files['student'].items() if not k.startswith('decode_head.')}
    torch.save({'state_dict': dict(state, **{'head.weight': torch.zeros(1)})}, other)
    with pytest.raises(UserError, match=r'does not fit UDAEncoderDecoder \(another architecture\?\): \d+ missing '
                                        r'keys \(decode_head\..*1 unexpected keys \(head\.weight\)'):
        load_checkpoint(model, str(other))


class _Payload:
    """Unpickling it needs this module's code."""


def test_mmengine_reads_checkpoints_weights_only(files):
    path = files['root'] / 'code.pth'
    torch.save({'state_dict': files['student'], 'meta': {'payload': _Payload()}}, path)
    # onedl-mmengine alone would warn and load it again with weights_only=False (running its code).
    with pytest.raises(UserError, match='cannot be loaded as weights only'):
        load_checkpoint(files['model'], str(path))
