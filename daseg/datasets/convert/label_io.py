"""Reading raw label and image files, and encoding trainId maps, with errors that name the file."""
import os.path as osp

import cv2
import numpy as np
from PIL import Image

from ...errors import UserError
from ...label_maps import to_lut


def _require_file(path):
    if not osp.isfile(path):
        raise UserError(f"file '{path}' does not exist")


def _decode(path):
    """The PIL mode and the pixel array of an image file."""
    _require_file(path)
    try:
        with Image.open(path) as img:
            return img.mode, np.asarray(img)
    except (OSError, ValueError) as err:
        raise UserError(f"label '{path}' could not be decoded as an image ({err})") from None


def _require_8bit(path, mode, hint=''):
    if mode not in ('L', 'P'):
        raise UserError(f"label '{path}' has PIL mode {mode}; expected an 8-bit single-channel or palette PNG "
                        f'of ids{hint}')


def read_id_png(path):
    """Read an 8-bit single-channel or palette PNG of ids.

    For a palette PNG (GTA5) this is the palette index, not its colour, which is why PIL is used: cv2 would
    return the colours.

    Args:
        path (str): Label file.

    Returns:
        np.ndarray: uint8 ids, shape (H, W).
    """
    mode, ids = _decode(path)
    _require_8bit(path, mode)
    return ids


def read_raw_ids(path):
    """Read a label of raw ids: as :func:`read_id_png`, or a 16-bit single-channel PNG.

    Args:
        path (str): Label file.

    Returns:
        np.ndarray: uint8 or uint16 ids, shape (H, W).
    """
    mode, ids = _decode(path)
    if mode.startswith('I') and ids.size and 0 <= ids.min() and ids.max() < 1 << 16:
        return ids.astype(np.uint16)
    _require_8bit(path, mode, ' (or 16-bit); a colour-coded label needs a label map with "colors"')
    return ids


def read_packed_colors(path):
    """Read a colour-coded label, each pixel's colour packed into one integer R * 65536 + G * 256 + B.

    Args:
        path (str): Label file (PNG; a lossy JPEG alters colours at region borders).

    Returns:
        np.ndarray: int32, shape (H, W).
    """
    bgr = read_color_image(path).astype(np.int32)
    return (bgr[:, :, 2] << 16) | (bgr[:, :, 1] << 8) | bgr[:, :, 0]


def read_synthia_ids(path):
    """Read the class ids of a SYNTHIA label: a 16-bit 3-channel PNG with the class in the red channel.

    PIL truncates 16-bit RGB to the high byte (all zeros here), so cv2 is used.

    Args:
        path (str): File under GT/LABELS.

    Returns:
        np.ndarray: uint16 class ids, shape (H, W).
    """
    _require_file(path)
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise UserError(f"label '{path}' could not be decoded as an image")
    if label.ndim != 3 or label.shape[2] != 3 or label.dtype != np.uint16:
        raise UserError(f"label '{path}' is {label.dtype} with shape {label.shape}; expected a 16-bit 3-channel "
                        'SYNTHIA label (GT/LABELS, not GT/COLOR)')
    return label[:, :, 2]  # red, in cv2's BGR order; green holds the instance id


def read_color_image(path):
    """Read an image as 8-bit BGR, in stored pixel order (EXIF rotation ignored, as the labels are not rotated).

    Args:
        path (str): Image file (PNG or JPEG).

    Returns:
        np.ndarray: uint8, shape (H, W, 3).
    """
    _require_file(path)
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise UserError(f"image '{path}' could not be decoded as an image")
    return img


def apply_id_map(ids, mapping):
    """Map raw ids to trainIds; ids absent from `mapping` become 255.

    Args:
        ids (np.ndarray): Non-negative integer ids (or packed colours).
        mapping (dict[int, int]): Raw id -> trainId.

    Returns:
        np.ndarray: uint8 trainIds, same shape.
    """
    return to_lut(mapping, size=max(256, int(ids.max()) + 1, max(mapping, default=0) + 1))[ids]


def encode_png(array):
    """Encode an image array as PNG bytes (lossless; uint8 or uint16, 1 or 3 channels in BGR order)."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise RuntimeError(f'PNG encoding failed for an array of shape {array.shape}')
    return buf.tobytes()
