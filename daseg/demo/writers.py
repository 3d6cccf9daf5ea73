"""One writer per dataset format: each stores an image and its labels under the real dataset's own folder
layout, file names and label encoding, so the project's real converters and loaders read them.

A writer is called as `write(root, split, number, image, scene)`, `number` counting a domain's images
across both splits, and returns the sample's stem. A format's files that belong to no sample (Mapillary's
config) are written once per domain by a finisher, `finish(root)`.
"""
import base64
import hashlib
import json
import os

import cv2
import numpy as np
from PIL import Image

from .labels import LABEL_COLORS, SYNTHIA_LUT, THING_IDS, TRAINID_LUT
from .mapillary_labels import CONFIG as MAPILLARY_CONFIG
from .mapillary_labels import PALETTE as MAPILLARY_PALETTE
from .mapillary_labels import mapillary_indices

CITYSCAPES_CITIES = {'train': ('aachen', 'bochum', 'bremen'), 'val': ('frankfurt', 'lindau')}
# First GoPro sequence number of each split; sequences hold `_SEQ_LEN` frames (Dark Zurich val: all in one).
_ACDC_SEQ = {'train': 475, 'val': 606}
_DZ_TRAIN_SEQ, DZ_VAL_SEQ = 348, 'GOPR0356'
_SEQ_LEN = 40


def _save(path, array, palette=None, **options):
    """Save uint8 HxW (grey, or palette indices with the colours `palette`, (N, 3) uint8) or HxWx3 (RGB) with PIL.

    PNGs use fast zlib level 1: at level 6 compressing noisy images dominates the generation time."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.fromarray(array)
    if palette is not None:
        img = img.convert('P')  # keeps the index values; only the colour table is new
        colours = np.zeros((256, 3), np.uint8)
        colours[:len(palette)] = palette
        img.putpalette(colours.ravel().tolist())
    if path.endswith('.png'):
        options.setdefault('compress_level', 1)
    img.save(path, **options)


def gta(root, split, number, image, scene):
    """GTA5: images/00000.png, labels/00000.png as a palette PNG whose indices are Cityscapes labelIds."""
    stem = f'{number:05d}'
    _save(os.path.join(root, 'images', stem + '.png'), image)
    _save(os.path.join(root, 'labels', stem + '.png'), scene.ids, palette=LABEL_COLORS)
    return stem


def instance_ids(scene):
    """Per-pixel instance number 1..n of thing shapes, 0 on stuff."""
    things = np.isin(scene.ids, THING_IDS)
    _, inverse = np.unique(scene.region[things], return_inverse=True)
    inst = np.zeros(scene.ids.shape, np.uint16)
    inst[things] = inverse.ravel() + 1
    return inst


def synthia(root, split, number, image, scene):
    """SYNTHIA-RAND-CITYSCAPES: RGB/0000000.png and GT/LABELS/0000000.png, 16-bit 3-channel with the class
    id in R and the instance id in G (as cv2 reads it: [..., 2] and [..., 1])."""
    stem = f'{number:07d}'
    _save(os.path.join(root, 'RGB', stem + '.png'), image)
    label = np.zeros(scene.ids.shape + (3,), np.uint16)
    label[..., 2] = SYNTHIA_LUT[scene.ids]
    label[..., 1] = instance_ids(scene)
    path = os.path.join(root, 'GT', 'LABELS', stem + '.png')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, label)
    return stem


def cityscapes(root, split, number, image, scene):
    """Cityscapes: leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png, gtFine labelIds + color."""
    cities = CITYSCAPES_CITIES[split]
    city = cities[number % len(cities)]
    stem = f'{city}_{number // len(cities):06d}_000019'
    _save(os.path.join(root, 'leftImg8bit', split, city, stem + '_leftImg8bit.png'), image)
    gt = os.path.join(root, 'gtFine', split, city, stem + '_gtFine_')
    _save(gt + 'labelIds.png', scene.ids)
    _save(gt + 'color.png', LABEL_COLORS[scene.ids])
    return stem


def idd(root, split, number, image, scene):
    """IDD after its own toolkit: leftImg8bit/<split>/<seq>/<frame>_leftImg8bit.jpg and
    gtFine/<split>/<seq>/<frame>_gtFine_labelcsTrainIds.png (Cityscapes trainIds, 255 = ignore)."""
    seq = str(number // _SEQ_LEN)
    frame = f'{number:06d}'
    _save(os.path.join(root, 'leftImg8bit', split, seq, frame + '_leftImg8bit.jpg'), image, quality=85)
    _save(os.path.join(root, 'gtFine', split, seq, frame + '_gtFine_labelcsTrainIds.png'), TRAINID_LUT[scene.ids])
    return f'{seq}/{frame}'


def _gopro(root_rgb, root_gt, seq, number, image, scene):
    stem = f'{seq}_frame_{number * 10 + 1:06d}'  # unique within the split, like real frame numbers
    _save(os.path.join(root_rgb, seq, stem + '_rgb_anon.png'), image)
    if root_gt is not None:
        _save(os.path.join(root_gt, seq, stem + '_gt_labelTrainIds.png'), TRAINID_LUT[scene.ids])
        _save(os.path.join(root_gt, seq, stem + '_gt_labelIds.png'), scene.ids)
    return f'{seq}/{stem}'


def acdc(condition):
    """ACDC for one condition: rgb_anon/<cond>/<split>/GOPRxxxx/..._rgb_anon.png and
    gt/<cond>/<split>/GOPRxxxx/..._gt_labelTrainIds.png + _gt_labelIds.png."""
    def write(root, split, number, image, scene):
        seq = f'GOPR{_ACDC_SEQ[split] + number // _SEQ_LEN:04d}'
        return _gopro(os.path.join(root, 'rgb_anon', condition, split),
                      os.path.join(root, 'gt', condition, split), seq, number, image, scene)
    return write


def darkzurich(root, split, number, image, scene):
    """Dark Zurich: unlabelled rgb_anon/train/night/GOPRxxxx/..., labelled val sequence GOPR0356."""
    if split == 'train':
        seq = f'GOPR{_DZ_TRAIN_SEQ + number // _SEQ_LEN:04d}'
        return _gopro(os.path.join(root, 'rgb_anon', 'train', 'night'), None, seq, number, image, scene)
    return _gopro(os.path.join(root, 'rgb_anon', 'val', 'night'), os.path.join(root, 'gt', 'val', 'night'),
                  DZ_VAL_SEQ, number, image, scene)


def synscapes(root, split, number, image, scene):
    """Synscapes: img/rgb/<n>.png, img/class/<n>.png (8-bit Cityscapes labelIds) and meta/<n>.json, n from 1."""
    stem = str(number + 1)
    _save(os.path.join(root, 'img', 'rgb', stem + '.png'), image)
    _save(os.path.join(root, 'img', 'class', stem + '.png'), scene.ids)
    cam = scene.cam
    meta = {'camera': {'intrinsic': {'fx': cam.focal, 'fy': cam.focal, 'u0': cam.cx, 'v0': cam.horizon,
                                     'resx': cam.width, 'resy': cam.height_px},
                       'extrinsic': {'x': 0.0, 'y': 0.0, 'z': cam.height, 'pitch': 0.0, 'roll': 0.0, 'yaw': 0.0}},
            'scene': {}}
    os.makedirs(os.path.join(root, 'meta'), exist_ok=True)
    with open(os.path.join(root, 'meta', stem + '.json'), 'w') as f:
        json.dump(meta, f)
    return stem


MAPILLARY_SPLITS = {'train': 'training', 'val': 'validation'}


def mapillary_key(number):
    """A 22-character image key like Mapillary's ('__CRyFzoDOXn6unQ6a3DnQ'), fixed by the image number."""
    digest = hashlib.sha256(f'demo-{number}'.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def mapillary(root, split, number, image, scene):
    """Mapillary Vistas v1.2: <training|validation>/images/<key>.jpg and labels/<key>.png, a palette PNG of label
    indices into config_v1.2.json's list (written by `mapillary_config`)."""
    key = mapillary_key(number)
    folder = os.path.join(root, MAPILLARY_SPLITS[split])
    _save(os.path.join(folder, 'images', key + '.jpg'), image, quality=90)
    _save(os.path.join(folder, 'labels', key + '.png'), mapillary_indices(scene), palette=MAPILLARY_PALETTE)
    return key


def mapillary_config(root):
    """config_v1.2.json: the label list of the Mapillary-like domain."""
    with open(os.path.join(root, 'config_v1.2.json'), 'w') as f:
        json.dump(MAPILLARY_CONFIG, f, indent=2)
