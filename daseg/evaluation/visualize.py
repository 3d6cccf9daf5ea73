"""Colourised predictions: image | ground truth | prediction, side by side, one PNG per image."""
import os.path as osp
from collections import Counter

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..classes import PALETTE


def colorize(label, palette=PALETTE):
    """Map trainIds to colours; 255 (ignore) and any id without a colour are black.

    Args:
        label (np.ndarray): (H, W) integer class indices.
        palette (Sequence[tuple[int, int, int]]): RGB colour of each class.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(palette)] = palette
    return lut[np.clip(label, 0, 255).astype(np.uint8)]


def comparison_image(image, gt, pred, palette=PALETTE):
    """Concatenate image, coloured GT and coloured prediction horizontally.

    Args:
        image (np.ndarray): (h, w, 3) uint8 RGB; resized to the label's size if it differs.
        gt (np.ndarray | None): (H, W) trainIds; None for an unlabelled image (image | prediction).
        pred (np.ndarray): (H, W) predicted classes.

    Returns:
        np.ndarray: (H, 3W, 3) uint8 RGB, or (H, 2W, 3) without a label.
    """
    height, width = pred.shape
    if image.shape[:2] != (height, width):
        image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    labels = [pred] if gt is None else [gt, pred]
    return np.concatenate([image, *(colorize(label, palette) for label in labels)], axis=1)


def save_comparison(path, image, gt, pred, palette=PALETTE):
    """Write :func:`comparison_image` as a PNG (atomically; an existing file is an error)."""
    canvas = Image.fromarray(comparison_image(image, gt, pred, palette))
    atomic_write(path, lambda f: canvas.save(f, format='PNG'))


def output_names(image_paths):
    """File names for the comparison PNGs: the image stems, or ``<folder>_<stem>`` when stems repeat.

    IDD, for instance, reuses frame names across sequence folders.

    Args:
        image_paths (Sequence[str]): the dataset's image files, in order.

    Returns:
        dict[str, str]: image path -> ``<name>.png``.
    """
    stems = [osp.splitext(osp.basename(p))[0] for p in image_paths]
    if len(set(stems)) < len(stems):
        stems = [f'{osp.basename(osp.dirname(p))}_{s}' for p, s in zip(image_paths, stems)]
    if len(set(stems)) < len(stems):
        repeated = Counter(stems)
        stems = [f'{i:06d}_{s}' if repeated[s] > 1 else s for i, s in enumerate(stems)]
    return {p: f'{s}.png' for p, s in zip(image_paths, stems)}
