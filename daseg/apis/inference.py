"""Segmenting one's own images: the segmentor of a config with a checkpoint's weights, and its prediction of
trainIds at each image's own resolution.

    from daseg.apis import init_segmentor, segment

    model = init_segmentor('configs/demo/gta2cityscapes_dacs.py', 'work_dirs/.../iter_400.pth')
    labels = segment(model, ['a.png', frame_bgr], batch_size=4)     # list of (H, W) uint8 trainIds

The checkpoint may be a UDA training checkpoint (``model.*`` student, ``ema_model.*`` teacher), a merged one, a
plain segmentor or a released DAFormer/HRDA/MIC file (their keys are converted, see :mod:`daseg.weights`). Images
are resized only as the config's test pipeline says; the logits are resized back to the input's size. The
inference mode (whole image, sliding window) is the config's unless asked otherwise; an HRDA segmentor always
predicts at its two resolutions, with the detail branch by windows as its config says.
"""
import copy

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS
from mmseg.utils import register_all_modules

from ..classes import CLASSES, PALETTE
from ..cli import load_config, segmentor_config
from ..datasets.loading import LoadImageChecked
from ..errors import UserError
from ..evaluation.tta import tta_test_step
from ..merging.recalibrate import test_pipeline
from ..weights import load_segmentor_weights

MODES = ('whole', 'slide')


def _pair(value, what):
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise UserError(f'{what} must be two positive integers (height width), got {list(value)}')
    return pair


def inference_test_cfg(test_cfg, mode=None, crop_size=None, stride=None):
    """A segmentor's ``test_cfg`` with the inference mode asked for.

    Args:
        test_cfg (dict | None): the config's ``model.test_cfg``.
        mode (str | None): ``'whole'`` or ``'slide'``; None keeps the config's (``'slide'`` when a window is given).
        crop_size (Sequence[int] | None): (h, w) of the sliding window; default the config's.
        stride (Sequence[int] | None): (h, w) step of the window; default the config's for the config's window,
            else half the window.

    Returns:
        dict: the new ``test_cfg``.
    """
    cfg = dict(test_cfg or {})
    if mode is None:
        mode = 'slide' if crop_size or stride else cfg.get('mode', 'whole')
    if mode not in MODES:
        raise UserError(f'inference mode must be one of {", ".join(MODES)}, got {mode!r}')
    if mode == 'whole':
        if crop_size or stride:
            raise UserError('a window size or stride is for sliding-window inference (mode slide), not whole')
        return {k: v for k, v in cfg.items() if k not in ('crop_size', 'stride')} | {'mode': 'whole'}
    if crop_size is None and not cfg.get('crop_size'):
        raise UserError('sliding-window inference needs a window: the config sets no model.test_cfg.crop_size, '
                        'give one (--crop-size H W)')
    crop = _pair(crop_size or cfg['crop_size'], 'the window size (crop size)')
    if stride is None:
        stride = cfg.get('stride') if crop_size is None and cfg.get('stride') else [c // 2 or 1 for c in crop]
    stride = _pair(stride, 'the stride')
    if stride[0] > crop[0] or stride[1] > crop[1]:
        raise UserError(f'the stride {list(stride)} is larger than the window {list(crop)}: pixels between '
                        'windows would get no prediction')
    return cfg | {'mode': 'slide', 'crop_size': crop, 'stride': stride}


def dataset_meta(meta, cfg, num_classes):
    """Class names and colours: the checkpoint's ``dataset_meta``, else the config's test dataset's, else the
    Cityscapes classes for 19 classes.

    Returns:
        dict: ``{'classes': [...], 'palette': [(r, g, b), ...]}``, one entry per class the model predicts.
    """
    found = meta.get('dataset_meta') if isinstance(meta.get('dataset_meta'), dict) else {}
    if not found.get('classes'):
        dataset = (cfg.get('test_dataloader') or {}).get('dataset') or next(iter((cfg.get('eval_targets') or
                                                                                 {}).values()), {})
        dataset_class = DATASETS.get(dataset.get('type')) if isinstance(dataset.get('type'), str) else None
        found = dict(getattr(dataset_class, 'METAINFO', {}))
    classes, palette = list(found.get('classes') or ()), found.get('palette')
    if not classes and num_classes == len(CLASSES):
        classes, palette = list(CLASSES), PALETTE
    classes = classes or [f'class {i}' for i in range(num_classes)]
    if len(classes) != num_classes:
        raise UserError(f'the dataset meta lists {len(classes)} classes, the model predicts {num_classes}')
    palette = [tuple(int(c) for c in colour) for colour in (palette or [])][:num_classes]
    palette += [PALETTE[i % len(PALETTE)] for i in range(len(palette), num_classes)]
    return {'classes': classes, 'palette': palette}


def init_segmentor(config, checkpoint, part='student', device='cpu', mode=None, crop_size=None, stride=None,
                   cfg_options=None):
    """Build a config's segmentor, in eval mode, with a checkpoint's weights.

    Args:
        config (str | mmengine.Config): a config file, a training work dir holding its dumped config, or a
            loaded config; a UDA config gives its segmentor (``model.model``).
        checkpoint (str): any checkpoint the project reads (see the module docstring).
        part (str): ``'student'`` (default) or ``'teacher'`` of a UDA checkpoint.
        device (str | torch.device): where the model runs.
        mode, crop_size, stride: the inference mode, see :func:`inference_test_cfg`.
        cfg_options (list[str] | None): ``KEY=VALUE`` overrides of a config file, as ``--cfg-options``.

    Returns:
        mmseg BaseSegmentor: with ``cfg`` (the config) and ``dataset_meta`` (classes, palette) attributes.

    Raises:
        UserError: an unreadable config or checkpoint, one that does not fit the config's architecture, a bad
            inference mode.
    """
    cfg = copy.deepcopy(config) if isinstance(config, Config) else load_config(config, cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = segmentor_config(cfg)
    model_cfg['test_cfg'] = ConfigDict(inference_test_cfg(model_cfg.get('test_cfg'), mode, crop_size, stride))
    model = revert_sync_batchnorm(MODELS.build(model_cfg))  # SyncBN needs a process group
    meta = load_segmentor_weights(model, checkpoint, part)
    num_classes = int(getattr(model.decode_head, 'num_classes', len(CLASSES)))
    if num_classes > 255:
        raise UserError(f'the model predicts {num_classes} classes; trainId PNGs hold at most 255')
    model.cfg = cfg
    model.dataset_meta = dataset_meta(meta, cfg, num_classes)
    return model.to(device).eval()


def test_transforms(cfg):
    """The config's test preprocessing (see :func:`daseg.merging.recalibrate.test_pipeline`) for an image already
    in memory: its image loading replaced by mmseg's ``LoadImageFromNDArray``, its resizing kept. A config
    without a test pipeline predicts at the input's size."""
    pipeline = test_pipeline(cfg) if cfg.get('test_dataloader') or cfg.get('eval_targets') else []
    kept = [t for t in pipeline if 'LoadImage' not in str(t.get('type', ''))]
    if not kept or 'PackSegInputs' not in str(kept[-1].get('type', '')):
        kept.append(dict(type='PackSegInputs'))
    return Compose([dict(type='LoadImageFromNDArray')] + kept)


def read_image(path):
    """An image file as a (H, W, 3) uint8 BGR array (as the training pipeline loads it); a missing or
    undecodable file is a UserError naming it."""
    return LoadImageChecked()(dict(img_path=path))['img']


def _same_size_runs(samples):
    """Consecutive samples of equal network input size: each run is one batch (the model stacks its inputs)."""
    runs = []
    for sample in samples:
        if runs and runs[-1][-1]['inputs'].shape == sample['inputs'].shape:
            runs[-1].append(sample)
        else:
            runs.append([sample])
    return runs


def segment(model, images, batch_size=1, tta=False):
    """Predict the trainIds of images at their own resolution.

    Args:
        model: a segmentor from :func:`init_segmentor` (any mmseg segmentor with a ``cfg`` attribute).
        images (Sequence[str | np.ndarray]): image files, or (H, W, 3) uint8 BGR arrays (as cv2 reads them).
        batch_size (int): images per forward pass; consecutive images of one input size share a batch.
        tta (bool): multi-scale + flip test-time augmentation (``daseg.evaluation.tta``, as ``test.sh --tta``).

    Returns:
        list[np.ndarray]: one (H, W) uint8 map of class indices per image.
    """
    if batch_size < 1:
        raise UserError(f'batch size must be 1 or more, got {batch_size}')
    transforms = test_transforms(model.cfg)
    labels = []
    for start in range(0, len(images), batch_size):
        samples = [transforms(dict(img=read_image(img) if isinstance(img, str) else img))
                   for img in images[start:start + batch_size]]
        for run in _same_size_runs(samples):
            with torch.no_grad():
                batch = pseudo_collate(run)
                results = tta_test_step(model, batch) if tta else model.test_step(batch)
            labels += [r.pred_sem_seg.data[0].to(torch.uint8).cpu().numpy() for r in results]
    return labels
