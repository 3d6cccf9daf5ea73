"""Colour overlays of predictions: the image blended with the class colours, above a legend of every class.

The legend lists all classes (not only those present), so that every frame of a video has the same size.
"""
import cv2
import numpy as np

from ..evaluation.visualize import colorize

_BACKGROUND = (32, 32, 32)
_TEXT = (255, 255, 255)
# Sizes at a 1024-pixel-wide image; wider images scale them up, narrower ones down to _MIN_SCALE.
_ROW, _CELL, _MIN_SCALE = 24, 180, 0.4


def _layout(width, num_classes):
    scale = max(width / 1024, _MIN_SCALE)
    row, cell = max(int(round(_ROW * scale)), 8), max(int(round(_CELL * scale)), 24)
    columns = max(width // cell, 1)
    rows = -(-num_classes // columns)
    return scale, row, cell, columns, rows


def legend(width, classes, palette):
    """A legend panel: one colour swatch and name per class, in as many columns as fit the width.

    Args:
        width (int): panel width in pixels (the image's).
        classes (Sequence[str]): class names.
        palette (Sequence[tuple[int, int, int]]): RGB colour of each class.

    Returns:
        np.ndarray: (h, width, 3) uint8 RGB.
    """
    scale, row, cell, columns, rows = _layout(width, len(classes))
    height = rows * row + row // 2
    # An even height keeps an even-sized frame even (mp4v drops a video's odd last row).
    panel = np.full((height + height % 2, width, 3), _BACKGROUND, dtype=np.uint8)
    swatch, font = row * 2 // 3, 0.45 * scale
    for index, (name, colour) in enumerate(zip(classes, palette)):
        top = (index // columns) * row + row // 4
        left = (index % columns) * cell + row // 4
        panel[top:top + swatch, left:left + swatch] = colour
        cv2.putText(panel, str(name), (left + swatch + row // 4, top + swatch - max(swatch // 8, 1)),
                    cv2.FONT_HERSHEY_SIMPLEX, font, _TEXT, max(int(scale), 1), cv2.LINE_AA)
    return panel


def blend(image, label, palette, opacity=0.5):
    """``(1 - opacity) * image + opacity * colour of the label``, rounded; pixels of no class (255) keep the image.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        label (np.ndarray): (H, W) class indices.
        palette (Sequence[tuple[int, int, int]]): RGB colour of each class.
        opacity (float): weight of the class colours, in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    mixed = (1 - opacity) * image.astype(np.float32) + opacity * colorize(label, palette).astype(np.float32)
    mixed = np.where((label < len(palette))[..., None], mixed, image)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def overlay(image, label, classes, palette, opacity=0.5):
    """:func:`blend` above :func:`legend`: (H + legend height, W, 3) uint8 RGB."""
    return np.concatenate([blend(image, label, palette, opacity), legend(image.shape[1], classes, palette)])
