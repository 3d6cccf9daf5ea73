"""Layout and file problems stop with a UserError that names the path, at load time or in the loaders."""
import re

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import daseg  # noqa: F401  (registers the datasets and transforms)
from daseg.errors import UserError

PIPELINE = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def q(path):
    """Regex for a quoted path in a message."""
    return re.escape(f"'{path}'")


def gta_root(root, stems=('00001', '00002')):
    """A converted GTA layout with 4x5 images and labels."""
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for stem in stems:
        cv2.imwrite(str(root / 'images' / f'{stem}.png'), np.zeros((4, 5, 3), np.uint8))
        Image.fromarray(np.zeros((4, 5), np.uint8)).save(root / 'labels' / f'{stem}_labelTrainIds.png')
    return root


def build(**cfg):
    return DATASETS.build(dict(type='GTADataset', pipeline=PIPELINE, **cfg))


def test_missing_data_root(tmp_path):
    with pytest.raises(UserError, match=f"data_root {q(tmp_path / 'nowhere')} does not exist.*images/"):
        build(data_root=str(tmp_path / 'nowhere'))


def test_missing_image_folder(tmp_path):
    with pytest.raises(UserError, match=f"image folder {q(tmp_path / 'images')} does not exist"):
        build(data_root=str(tmp_path))


def test_folder_without_images(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'labels').mkdir()
    (tmp_path / 'images' / 'notes.txt').write_text('no images here')
    with pytest.raises(UserError, match=f"no images ending in '.png' under {q(tmp_path / 'images')}"):
        build(data_root=str(tmp_path))


def test_image_without_label_names_both_paths(tmp_path):
    root = gta_root(tmp_path)
    (root / 'labels' / '00002_labelTrainIds.png').unlink()
    image, label = root / 'images' / '00002.png', root / 'labels' / '00002_labelTrainIds.png'
    with pytest.raises(UserError, match=f"label missing for image {q(image)}: expected {q(label)}"):
        build(data_root=str(root))


def test_missing_label_folder(tmp_path):
    root = gta_root(tmp_path)
    for label in (root / 'labels').iterdir():
        label.unlink()
    (root / 'labels').rmdir()
    with pytest.raises(UserError, match=f"label folder {q(root / 'labels')} does not exist.*gta.py"):
        build(data_root=str(root))


def test_lazy_init_defers_the_checks(tmp_path):
    ds = build(data_root=str(tmp_path / 'nowhere'), lazy_init=True)
    with pytest.raises(UserError, match='does not exist'):
        ds.full_init()


def test_ann_file_missing_or_listing_a_missing_image(tmp_path):
    root = gta_root(tmp_path)
    with pytest.raises(UserError, match=f"ann_file {q(root / 'train.txt')} does not exist"):
        build(data_root=str(root), ann_file='train.txt')
    (root / 'train.txt').write_text('00001\n\n00003\n')
    with pytest.raises(UserError, match=f"image {q(root / 'images' / '00003.png')} listed in"):
        build(data_root=str(root), ann_file='train.txt')
    (root / 'empty.txt').write_text('\n')
    with pytest.raises(UserError, match='lists no images'):
        build(data_root=str(root), ann_file='empty.txt')


@pytest.mark.parametrize('content', [b'', b'not an image at all', 'truncated'])
def test_corrupt_image_is_named(tmp_path, content):
    root = gta_root(tmp_path)
    image = root / 'images' / '00001.png'
    image.write_bytes(image.read_bytes()[:40] if content == 'truncated' else content)
    ds = build(data_root=str(root))
    with pytest.raises(UserError, match=f"{q(image)} could not be decoded as an image"):
        ds[0]


def test_corrupt_label_is_named(tmp_path):
    root = gta_root(tmp_path)
    label = root / 'labels' / '00002_labelTrainIds.png'
    label.write_bytes(b'\x89PNG garbage')
    ds = build(data_root=str(root))
    with pytest.raises(UserError, match=f"{q(label)} could not be decoded as an image"):
        ds[1]


def test_file_removed_after_listing_is_named(tmp_path):
    root = gta_root(tmp_path)
    ds = build(data_root=str(root))
    (root / 'images' / '00001.png').unlink()
    with pytest.raises(UserError, match=f"file {q(root / 'images' / '00001.png')} does not exist"):
        ds[0]


def test_acdc_rejects_unknown_condition_and_missing_condition_folder(tmp_path):
    with pytest.raises(UserError, match="conditions \\['fog', 'sunny'\\]"):
        DATASETS.build(dict(type='ACDCDataset', data_root=str(tmp_path), conditions=('fog', 'sunny')))
    with pytest.raises(UserError, match=f"image folder {q(tmp_path / 'rgb_anon' / 'fog' / 'val')} does not exist"):
        DATASETS.build(dict(type='ACDCDataset', data_root=str(tmp_path), conditions=('fog',)))
