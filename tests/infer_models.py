"""A tiny segmentor, its config and UDA checkpoint for the inference and export tests, and a second, hand-written
implementation of the test-time preprocessing and prediction to compare with."""
import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import daseg  # noqa: F401  (registers the project's modules)
from speed_models import segmentor_cfg

# The test pipeline fits each image into 256x128 (keeping its aspect ratio), as the real configs fit
# Cityscapes into 1024x512; predictions must come back at the input's resolution.
SCALE = (256, 128)
# The tiny DAFormer of the speed tests (MiT-B0, one block per stage, narrow head), padding nothing at test time.
SEGMENTOR = segmentor_cfg().to_dict()
SEGMENTOR['data_preprocessor'].pop('size')
TEST_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=SCALE, keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
# The teacher of the UDA checkpoint predicts this class everywhere; the student does not.
TEACHER_CLASS = 3


def build(segmentor=SEGMENTOR, seed=0):
    """The segmentor with seeded weights and a decode head sharp enough to predict several classes."""
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    model = MODELS.build(Config(dict(model=segmentor)).model)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.mul_(20)
    return model.eval()


def write_setup(folder, segmentor=SEGMENTOR, pipeline=TEST_PIPELINE):
    """A config, a UDA checkpoint (student ``model.*``, teacher ``ema_model.*``) and the student model.

    Returns:
        dict: ``config``, ``checkpoint`` (paths) and ``model`` (the student, in eval mode).
    """
    model = build(segmentor)
    config = folder / 'tiny.py'
    Config(dict(default_scope='mmseg', model=segmentor, test_pipeline=pipeline,
                test_dataloader=dict(batch_size=1, dataset=dict(type='CityscapesDataset', pipeline=pipeline)))
           ).dump(str(config))
    state = model.state_dict()
    teacher = {k: v.clone() for k, v in state.items()}
    teacher['decode_head.conv_seg.bias'][TEACHER_CLASS] += 1e4
    checkpoint = folder / 'iter_8.pth'
    torch.save({'state_dict': {**{f'model.{k}': v for k, v in state.items()},
                               **{f'ema_model.{k}': v for k, v in teacher.items()}},
                'meta': {'iter': 8}}, str(checkpoint))
    return dict(config=str(config), checkpoint=str(checkpoint), model=model)


def network_size(height, width, scale=SCALE):
    """mmcv's ``rescale_size``: the largest size with the image's aspect ratio within ``scale`` (w, h)."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def normalise(image_bgr):
    """(H, W, 3) uint8 BGR -> [1, 3, H, W] float32, RGB, minus the mean, over the std."""
    mean, std = (torch.tensor(SEGMENTOR['data_preprocessor'][k])[:, None, None] for k in ('mean', 'std'))
    rgb = torch.from_numpy(np.ascontiguousarray(image_bgr[..., ::-1].transpose(2, 0, 1))).float()
    return ((rgb - mean) / std)[None]


def metas(inputs):
    """What a segmentor's test step knows of an unpadded batch: its size."""
    size = tuple(inputs.shape[2:])
    return [dict(ori_shape=size, img_shape=size, pad_shape=size, padding_size=[0, 0, 0, 0])] * len(inputs)


def expected_labels(model, image_bgr, logits_of=None):
    """The prediction by hand: resize as the test pipeline, normalise, logits (by ``logits_of``, default the
    whole image), resized back to the image, arg-max. Returns (H, W) uint8."""
    height, width = image_bgr.shape[:2]
    net_h, net_w = network_size(height, width)
    resized = cv2.resize(image_bgr, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
    with torch.no_grad():
        inputs = normalise(resized)
        logits = logits_of(inputs) if logits_of else model.encode_decode(inputs, metas(inputs))
        logits = F.interpolate(logits, size=(height, width), mode='bilinear', align_corners=False)
    return logits.argmax(1)[0].numpy().astype(np.uint8)


def street_image(height, width, seed=0):
    """A smooth street-like picture, uint8 BGR: colour bands above a road, and a few boxes (smooth, so that
    its PNG files are quick to write)."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height)[:, None, None]
    cols = np.linspace(0, 1, width)[None, :, None]
    image = 255 * (0.5 + 0.5 * np.sin(6 * rows + 3 * cols + rng.uniform(0, 6, 3)))
    image[int(0.6 * height):] = [90, 70, 80]
    for _ in range(4):
        top, left = rng.integers(0, height * 3 // 4), rng.integers(0, width * 3 // 4)
        image[top:top + height // 4, left:left + width // 6] = rng.integers(0, 256, 3)
    return image.astype(np.uint8)
