"""Raw predictions as label files: one uint8 trainId PNG per image, in the tree of the dataset's images.

These are what test servers (ACDC, Dark Zurich) score and what self-training reads as pseudo-labels.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..errors import UserError


def prediction_path(img_path, img_root):
    """Where an image's prediction goes, relative to the prediction folder.

    Args:
        img_path (str): the image file.
        img_root (str): the dataset's image folder (``data_prefix['img_path']``); the prediction mirrors the
            image's place below it, e.g. ACDC ``fog/test/GOPR0475/GOPR0475_frame_000001_rgb_anon.png``.

    Returns:
        str: the image's path below ``img_root`` with the extension ``.png`` (the file name alone for an
        image outside ``img_root``).
    """
    relative = osp.relpath(osp.abspath(img_path), osp.abspath(img_root)) if img_root else osp.basename(img_path)
    if relative.startswith(os.pardir + os.sep) or relative == os.pardir:
        relative = osp.basename(img_path)
    return osp.splitext(relative)[0] + '.png'


def save_trainids(path, pred):
    """Write predicted classes as a single-channel uint8 PNG (atomically; an existing file is an error).

    Args:
        path (str): the PNG; missing folders are created.
        pred (np.ndarray): (H, W) class indices in 0..255.
    """
    pred = np.asarray(pred)
    if pred.ndim != 2 or pred.size and (pred.min() < 0 or pred.max() > 255):
        raise UserError(f'{path}: predictions must be (H, W) classes in 0..255, got shape {pred.shape}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    image = Image.fromarray(pred.astype(np.uint8), mode='L')
    atomic_write(path, lambda f: image.save(f, format='PNG'), sync=False)
