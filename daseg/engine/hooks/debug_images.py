"""Debug pictures of the self-training step every N iterations, as DAFormer/HRDA write them.

``<work dir>/debug/iter_<N>.png``: one row per image of the batch (at most ``max_images``), one column per
panel, each panel the size of the training crop: source image, source label, target image, pseudo-label,
its confidence weight (white = 1), ClassMix mask (white = source pixels), mixed image (after the strong
augmentation), mixed label; and, for an HRDA student, its scale attention on the target image (white = the
detail branch decides). The hook asks the UDA wrapper to keep that iteration's
:class:`~daseg.models.uda.step.UDAStep` (``keep_step``); the other iterations keep nothing.
"""
import os
import os.path as osp

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from PIL import Image

from ...atomic import atomic_write
from ...errors import UserError
from ...evaluation.visualize import colorize


def _images(img, preprocessor):
    """Normalised images [N, 3, H, W] back to uint8 RGB [N, H, W, 3]."""
    mean, std = preprocessor.mean.flatten().view(1, 3, 1, 1), preprocessor.std.flatten().view(1, 3, 1, 1)
    rgb = (img.detach().float() * std.to(img.device) + mean.to(img.device)).clamp(0, 255)
    return rgb.round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _maps(x):
    """[N, H, W] from [N, H, W] or [N, 1, H, W]."""
    return x[:, 0] if x.dim() == 4 else x


def _labels(label):
    return np.stack([colorize(x) for x in _maps(label).detach().cpu().numpy()])


def _gray(values):
    """Maps in [0, 1], [N, H, W] or [N, 1, H, W], as grey RGB."""
    grey = (_maps(values).detach().float().clamp(0, 1) * 255).round().byte().cpu().numpy()
    return np.repeat(grey[..., None], 3, axis=-1)


@torch.no_grad()
def hrda_attention(segmentor, img):
    """The HRDA scale attention of the predicted classes [N, H, W] at inference (eval mode, sliding windows), or
    None for a segmentor without one."""
    if not (hasattr(segmentor, 'multires_features') and hasattr(segmentor.decode_head, 'forward_outputs')):
        return None
    training = segmentor.training
    segmentor.eval()  # no BatchNorm statistics or dropout from a picture
    try:
        out = segmentor.decode_head.forward_outputs(segmentor.multires_features(img))
    finally:
        segmentor.train(training)
    att = (out['att'] * torch.softmax(out['fused'].float(), dim=1)).sum(dim=1, keepdim=True)
    return F.interpolate(att.float(), size=img.shape[-2:], mode='bilinear', align_corners=False)[:, 0]


def debug_panels(uda, step, max_images=2):
    """The panels of one step, in column order.

    Returns:
        list[tuple[str, np.ndarray]]: (name, uint8 RGB [n, H, W, 3]) with ``n = min(max_images, batch)``.
    """
    n, pre = max_images, uda.data_preprocessor
    panels = [('source', _images(step.source.img[:n], pre)), ('source label', _labels(step.source.label[:n])),
              ('target', _images(step.target.img[:n], pre))]
    mixed = step.cache.get('class_mix')
    if mixed:
        panels += [('pseudo-label', _labels(mixed['pseudo_label'][:n])),
                   ('confidence weight', _gray(mixed['pseudo_weight'][:n])), ('mix mask', _gray(mixed['mask'][:n])),
                   ('mixed image', _images(mixed['image'][:n], pre)), ('mixed label', _labels(mixed['label'][:n]))]
    att = hrda_attention(uda.model, step.target.img[:n])
    if att is not None:
        panels.append(('scale attention', _gray(att)))
    return panels


def _canvas(panels):
    """Rows of images, columns of panels; every panel resized (nearest) to the first panel's size."""
    height, width = panels[0][1].shape[1:3]
    rows = []
    for i in range(len(panels[0][1])):
        row = [p[i] if p[i].shape[:2] == (height, width) else
               np.asarray(Image.fromarray(p[i]).resize((width, height), Image.NEAREST)) for _, p in panels]
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


@HOOKS.register_module()
class DebugImageHook(Hook):
    """Writes the debug pictures of the module docstring every ``interval`` iterations.

    Args:
        interval (int): iterations between two pictures (iterations N, 2N, ...).
        max_images (int): images of the batch drawn, one row each.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1000, max_images: int = 2):
        if not isinstance(interval, int) or interval < 1:
            raise UserError(f'DebugImageHook: interval must be a positive int, got {interval!r}')
        self.interval, self.max_images = interval, max_images
        self._told = False

    @staticmethod
    def _uda(runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if not hasattr(model, 'keep_step'):
            raise UserError(f'debug pictures (DebugImageHook, debug_img_interval) need a UDA model, got '
                            f'{type(model).__name__}')
        return model

    def before_train(self, runner) -> None:
        self._uda(runner)
        os.makedirs(osp.join(runner.work_dir, 'debug'), exist_ok=True)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._uda(runner).keep_step = (runner.iter + 1) % self.interval == 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        uda = self._uda(runner)
        step, uda.last_step, uda.keep_step = uda.last_step, None, False
        if step is None or not is_main_process():
            return
        panels = debug_panels(uda, step, self.max_images)
        path = osp.join(runner.work_dir, 'debug', f'iter_{runner.iter + 1}.png')
        image = Image.fromarray(_canvas(panels))
        atomic_write(path, lambda f: image.save(f, format='PNG'), overwrite=True)
        if not self._told:
            self._told = True
            runner.logger.info(f'debug pictures every {self.interval} iterations in {osp.dirname(path)}, '
                               f'columns: {", ".join(name for name, _ in panels)}')
