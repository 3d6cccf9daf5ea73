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


def read_id_png(path):
    """Read an 8-bit single-channel or palette PNG of ids.

    For a palette PNG (GTA5) this is the palette index, not its colour, which is why PIL is used: cv2 would
    return the colours.

    Args:
        path (str): Label file.

    Returns:
        np.ndarray: uint8 ids, shape (H, W).
    """
    _require_file(path)
    try:
        with Image.open(path) as img:
            mode = img.mode
            ids = np.asarray(img)
    except (OSError, ValueError) as err:
        raise UserError(f"label '{path}' could not be decoded as an image ({err})") from None
    if mode not in ('L', 'P'):
        raise UserError(f"label '{path}' has PIL mode {mode}; expected an 8-bit single-channel or palette PNG "
                        'of ids')
    return ids


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
    """Map raw ids to trainIds; ids absent from `mapping` (including any id above 255) become 255.

    Args:
        ids (np.ndarray): Non-negative integer ids.
        mapping (dict[int, int]): Raw id -> trainId.

    Returns:
        np.ndarray: uint8 trainIds, same shape.
    """
    return to_lut(mapping, size=max(256, int(ids.max()) + 1))[ids]


def encode_png(array):
    """Encode an image array as PNG bytes (lossless; uint8 or uint16, 1 or 3 channels in BGR order)."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise RuntimeError(f'PNG encoding failed for an array of shape {array.shape}')
    return buf.tobytes()
