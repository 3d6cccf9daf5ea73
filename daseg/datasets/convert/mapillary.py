"""Mapillary Vistas v1.2 converter: label indices -> the 19 Cityscapes trainIds, plus the half-resolution
validation copy, as DDB prepares Mapillary (openseg's `mapillary2cityscape.py --train_id`, then
`mapillary_resize.py`).

Input, under ROOT (the release as unpacked):

    config_v1.2.json                  {"labels": [{"name": ..., "readable": ..., "color": [r, g, b], ...}, ...]}
    training/images/<key>.jpg         training/labels/<key>.png
    validation/images/<key>.jpg       validation/labels/<key>.png

Labels are 8-bit palette (or grey) PNGs whose value is the index of the label in the config's "labels" list;
RGB PNGs of the config colours are read too. The Vistas 2.0 download keeps the v1.2 labels in
`<split>/v1.2/labels`, which is found as well. `testing/` (no labels) is not read.

Output, under ROOT (nothing of the release is changed; a rerun replaces the earlier outputs):

    cityscapes_trainIdLabel/train/label/<key>.png   trainIds (0..18, 255 = ignore) of the training labels
    cityscapes_trainIdLabel/val/label/<key>.png     trainIds of the validation labels, full resolution
    cityscapes_trainIdLabel/label_map.json          every Mapillary label, its trainId and the rule that chose it
    half/val_img/<key>.jpg                          validation images at (W // 2, H // 2), bicubic, JPEG quality 95
    half/val_label/<key>.png                        validation trainIds at (W // 2, H // 2), nearest
    sample_class_stats.json, sample_class_stats_dict.json, samples_with_class.json   (training labels)

Which Mapillary label becomes which class: the name rules of `mapillary_rules`. The half size rounds down,
(W // 2, H // 2), and the resampling is PIL's, as in DDB's `mapillary_resize.py` (PIL's nearest takes source
pixel floor((x + 0.5) * W / (W // 2)), i.e. 2x + 1 for an even width).
"""
import io
import os
import os.path as osp
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image

from ...classes import IGNORE_INDEX
from ...errors import UserError
from ...locks import folder_lock
from ..checked import list_stems
from .atomic import write_bytes_atomic
from .class_stats import class_stats_entry, write_class_stats
from .cli import require_dir
from .label_io import encode_png, read_id_png, read_packed_colors
from .label_map_file import pack_color, show_color
from .mapillary_rules import CONFIG_NAME, build_label_map, read_config, write_label_map
from .parallel import run_parallel

# (raw split folder, output split name); the raw labels are the first of LABEL_DIRS that exists.
SPLITS = (('training', 'train'), ('validation', 'val'))
LABEL_DIRS = ('labels', osp.join('v1.2', 'labels'))
TRAIN_IMG_DIR = 'training/images'
VAL_IMG_DIR = 'validation/images'
TRAIN_LABEL_DIR = 'cityscapes_trainIdLabel/train/label'
VAL_LABEL_DIR = 'cityscapes_trainIdLabel/val/label'
LABEL_MAP_FILE = 'cityscapes_trainIdLabel/label_map.json'
HALF_VAL_IMG_DIR = 'half/val_img'
HALF_VAL_LABEL_DIR = 'half/val_label'
IMG_SUFFIX, LABEL_SUFFIX = '.jpg', '.png'
JPEG_QUALITY = 95
EXPECTED = (f'{CONFIG_NAME}, training/images/*.jpg with training/labels/*.png and validation/images/*.jpg with '
            'validation/labels/*.png')

class MapillaryTask(NamedTuple):
    """One Mapillary frame to convert.

    Args:
        img (str): Raw image.
        label (str): Raw label (label indices or config colours).
        dst_label (str): trainId label to write, full resolution.
        file (str, optional): `dst_label` relative to the root, for the statistics; None outside training.
        half_img (str, optional): Half-resolution image to write; None outside validation.
        half_label (str, optional): Half-resolution trainId label to write.
        lut (np.ndarray): uint8 (256,), label index -> trainId.
        colors (tuple[int]): Packed RGB colour of each label index, for RGB labels.
        config (str): The config file, for messages.
    """

    img: str
    label: str
    dst_label: str
    file: Optional[str]
    half_img: Optional[str]
    half_label: Optional[str]
    lut: np.ndarray
    colors: tuple
    config: str


def _pil_mode(path):
    """The PIL mode from the file header, or None when it cannot be read (`read_id_png` then names the problem)."""
    try:
        with Image.open(path) as img:
            return img.mode
    except (OSError, ValueError):
        return None


def colors_to_indices(packed, colors, path):
    """Packed RGB colours -> label indices.

    Args:
        packed (np.ndarray): int32 colours R * 65536 + G * 256 + B, shape (H, W).
        colors (tuple[int]): Packed colour of each label index.
        path (str): The label file, for the messages.

    Returns:
        np.ndarray: uint8 label indices, shape (H, W).
    """
    if len(set(colors)) != len(colors):
        raise UserError(f"label '{path}' is an RGB label but colours repeat in the config's labels, so they do not "
                        'name one label each; give labels of label indices')
    order = np.argsort(colors)
    keys = np.asarray(colors, np.int64)[order]
    pos = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    unknown = keys[pos] != packed
    if unknown.any():
        values, counts = np.unique(packed[unknown], return_counts=True)
        shown = ', '.join(f'{show_color(int(v))} ({c} px)' for v, c in zip(values[:5], counts[:5]))
        raise UserError(f"label '{path}' holds colours that are no label colour of the config: {shown}")
    return order[pos].astype(np.uint8)


def read_label_indices(task):
    """The label indices of a task's label, checked against the config's label count."""
    if _pil_mode(task.label) in ('RGB', 'RGBA'):
        return colors_to_indices(read_packed_colors(task.label), task.colors, task.label)
    ids = read_id_png(task.label)
    n = len(task.colors)
    if ids.size and int(ids.max()) >= n:
        bad = int(ids.max())
        raise UserError(f"label '{task.label}' holds label index {bad} ({int((ids == bad).sum())} px) but "
                        f"'{task.config}' lists {n} labels (0..{n - 1}); labels and config must be of one "
                        'release (v1.2: 66 labels)')
    return ids


def _open_image(path):
    try:
        img = Image.open(path)
        img.load()
    except (OSError, ValueError) as err:
        raise UserError(f"image '{path}' could not be decoded as an image ({err})") from None
    return img if img.mode in ('RGB', 'L') else img.convert('RGB')


def _image_size(path):
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError) as err:
        raise UserError(f"image '{path}' could not be decoded as an image ({err})") from None


def convert_frame(task):
    """Write one frame's trainId label and, for validation, its half-resolution image and label, atomically.

    Args:
        task (MapillaryTask): The frame.

    Returns:
        dict | None: The label's `class_stats_entry` for a training frame, else None.
    """
    train_ids = task.lut[read_label_indices(task)]
    h, w = train_ids.shape
    img = _open_image(task.img) if task.half_img else None
    size = img.size if img is not None else _image_size(task.img)
    if size != (w, h):
        raise UserError(f"label '{task.label}' is {w}x{h} but its image '{task.img}' is {size[0]}x{size[1]}")
    write_bytes_atomic(task.dst_label, encode_png(train_ids))
    if task.half_img:
        half = (w // 2, h // 2)
        if min(half) < 1:
            raise UserError(f"image '{task.img}' is {w}x{h}; a half-resolution copy needs at least 2x2 pixels")
        buf = io.BytesIO()
        img.resize(half, Image.BICUBIC).save(buf, format='JPEG', quality=JPEG_QUALITY)
        write_bytes_atomic(task.half_img, buf.getvalue())
        label = Image.fromarray(train_ids).resize(half, Image.NEAREST)
        write_bytes_atomic(task.half_label, encode_png(np.asarray(label)))
    return class_stats_entry(task.file, train_ids) if task.file else None


def _label_dir(root, split):
    for name in LABEL_DIRS:
        if osp.isdir(osp.join(root, split, name)):
            return osp.join(root, split, name)
    raise UserError(f"Mapillary label folder '{osp.join(root, split, 'labels')}' does not exist; expected "
                    f'{split}/labels/*.png (or {split}/v1.2/labels/*.png) of label indices')


def _require_pairs(stems, other, folder, suffix, other_folder, other_suffix, what, other_what):
    missing = sorted(set(stems) - set(other))
    if missing:
        raise UserError(f"{len(missing)} of {len(stems)} {what} in '{folder}' have no {other_what}; first: "
                        f"'{osp.join(folder, missing[0] + suffix)}', expected "
                        f"'{osp.join(other_folder, missing[0] + other_suffix)}'")


def _rel(folder, stem, suffix):
    """An output path relative to the root, with '/' separators (as the statistics record it)."""
    return f'{folder}/{stem}{suffix}'.replace(os.sep, '/')


def _split_tasks(root, split, out, lut, colors, config):
    img_dir = osp.join(root, split, 'images')
    require_dir(img_dir, 'Mapillary image folder', f'{split}/images/*.jpg')
    label_dir = _label_dir(root, split)
    images, labels = list_stems(img_dir, IMG_SUFFIX), list_stems(label_dir, LABEL_SUFFIX)
    if not labels:
        raise UserError(f"no labels '*{LABEL_SUFFIX}' under '{label_dir}'")
    _require_pairs(images, labels, img_dir, IMG_SUFFIX, label_dir, LABEL_SUFFIX, 'images', 'label')
    _require_pairs(labels, images, label_dir, LABEL_SUFFIX, img_dir, IMG_SUFFIX, 'labels', 'image')
    val = out == 'val'
    label_out = VAL_LABEL_DIR if val else TRAIN_LABEL_DIR
    return [MapillaryTask(
        osp.join(img_dir, stem + IMG_SUFFIX), osp.join(label_dir, stem + LABEL_SUFFIX),
        osp.join(root, _rel(label_out, stem, LABEL_SUFFIX)), None if val else _rel(label_out, stem, LABEL_SUFFIX),
        osp.join(root, _rel(HALF_VAL_IMG_DIR, stem, IMG_SUFFIX)) if val else None,
        osp.join(root, _rel(HALF_VAL_LABEL_DIR, stem, LABEL_SUFFIX)) if val else None, lut, colors, config)
        for stem in labels]


def convert_mapillary(root, nproc=1, config=CONFIG_NAME):
    """Convert the training and validation labels, write the half-resolution validation copy, the label map and
    the statistics of the training labels (layout in the module docstring).

    Args:
        root (str): Mapillary Vistas root.
        nproc (int): Worker processes.
        config (str): The config with the label list, relative to root unless absolute.

    Returns:
        list[str]: The label map and the statistics files written.
    """
    require_dir(root, 'Mapillary root', f'a folder with {EXPECTED}')
    config = osp.join(root, config)  # an absolute config stays as it is
    labels = read_config(config)
    rows = build_label_map(labels)
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    lut[:len(rows)] = [r['train_id'] for r in rows]
    colors = tuple(pack_color(label['color']) for label in labels)
    tasks = [t for split, out in SPLITS for t in _split_tasks(root, split, out, lut, colors, config)]
    with folder_lock(root, 'a dataset conversion'):
        for folder in {osp.dirname(p) for t in tasks for p in (t.dst_label, t.half_img, t.half_label) if p}:
            os.makedirs(folder, exist_ok=True)
        map_path = osp.join(root, LABEL_MAP_FILE)
        write_label_map(map_path, config, rows)
        replaced = sum(osp.exists(t.dst_label) for t in tasks)
        entries = run_parallel(convert_frame, tasks, nproc)
        n_val = sum(t.half_img is not None for t in tasks)
        note = f' ({replaced} replaced earlier outputs)' if replaced else ''
        print(f'wrote {len(tasks) - n_val} training and {n_val} validation trainId labels, {n_val} half-resolution '
              f'validation images and labels{note}')
        return [map_path] + write_class_stats(root, [e for e in entries if e is not None])
