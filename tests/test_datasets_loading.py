"""Every dataset class, built from a config through mmseg's registry with the checked loaders, reads a sample
laid out exactly as in the released dataset (or as the converter writes it)."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import daseg  # noqa: F401  (registers the datasets and transforms)
from daseg.classes import CLASSES
from daseg.datasets.convert.gta import convert_gta
from daseg.datasets.convert.idd import convert_idd
from daseg.datasets.convert.synthia import convert_synthia

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures'
PIPELINE = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]


@pytest.fixture(autouse=True)
def mmseg_scope():
    init_default_scope('mmseg')


def write_image(path, height, width, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)


def write_gray(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint8), 'L').save(path)


def build(**cfg):
    return DATASETS.build(dict(pipeline=PIPELINE, **cfg))


def sample_arrays(sample):
    """Return (image CHW shape, label HW array) of a packed sample."""
    return tuple(sample['inputs'].shape), sample['data_samples'].gt_sem_seg.data[0].numpy()


def test_gta_palette_labels_converted_then_loaded_with_ann_file(tmp_path):
    # GTA5 labels are palette PNGs whose indices are Cityscapes labelIds.
    ids = np.array([[7, 7, 26, 26], [24, 0, 8, 33], [11, 11, 11, 3]], dtype=np.uint8)
    for stem in ('00001', '00002'):
        write_image(tmp_path / 'images' / f'{stem}.png', 3, 4)
        label = Image.fromarray(ids, 'L')
        label.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
        (tmp_path / 'labels').mkdir(exist_ok=True)
        label.save(tmp_path / 'labels' / f'{stem}.png')
    (tmp_path / 'train.txt').write_text('00001\n')
    (tmp_path / 'val.txt').write_text('00002\n')
    convert_gta(str(tmp_path), nproc=1, split_file='train.txt')

    ds = build(type='GTADataset', data_root=str(tmp_path), ann_file='val.txt')
    assert len(ds) == 1 and ds.metainfo['classes'] == CLASSES
    shape, gt = sample_arrays(ds[0])
    assert shape == (3, 3, 4)
    np.testing.assert_array_equal(gt, [[0, 0, 13, 13], [11, 255, 1, 18], [2, 2, 2, 255]])
    assert ds[0]['data_samples'].img_path == str(tmp_path / 'images' / '00002.png')
    assert ds[0]['data_samples'].seg_map_path == str(tmp_path / 'labels' / '00002_labelTrainIds.png')
    assert len(build(type='GTADataset', data_root=str(tmp_path))) == 2


def test_synthia_16bit_labels_converted_then_loaded(tmp_path):
    # Official encoding: 16-bit 3-channel PNG, class id in R, instance id in G (cv2 order B, G, R).
    ids = np.array([[3, 3, 2], [21, 8, 1]], dtype=np.uint16)
    label = np.stack([np.zeros_like(ids), np.full_like(ids, 7), ids], axis=-1)
    (tmp_path / 'GT' / 'LABELS').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'GT' / 'LABELS' / '0000000.png'), label)
    write_image(tmp_path / 'RGB' / '0000000.png', 2, 3)
    convert_synthia(str(tmp_path), nproc=1)

    ds = build(type='SynthiaDataset', data_root=str(tmp_path))
    shape, gt = sample_arrays(ds[0])
    assert len(ds) == 1 and shape == (3, 2, 3)
    np.testing.assert_array_equal(gt, [[0, 0, 2], [3, 13, 10]])
    assert ds[0]['data_samples'].seg_map_path == str(tmp_path / 'GT' / 'LABELS' / '0000000_labelTrainIds.png')


def test_cityscapes_real_fixture():
    root = FIXTURES / 'cityscapes'
    if not root.is_dir():
        pytest.skip(f'real Cityscapes fixture not found at {root} (shared/ must sit beside the clone)')
    ds = build(type='CheckedCityscapesDataset', data_root=str(root),
               data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
    shape, gt = sample_arrays(ds[0])
    assert len(ds) == 1 and shape == (3, 128, 256)
    assert set(np.unique(gt)) == {0, 1, 2, 4, 5, 7, 8, 10, 11, 13, 255}
    assert int((gt == 255).sum()) == 3869
    stem = 'frankfurt/frankfurt_000000_000294'
    assert ds[0]['data_samples'].img_path == str(root / 'leftImg8bit' / 'val' / f'{stem}_leftImg8bit.png')
    assert ds[0]['data_samples'].seg_map_path == str(root / 'gtFine' / 'val' / f'{stem}_gtFine_labelTrainIds.png')


def test_idd_jpeg_and_labelcs_converted_then_loaded(tmp_path):
    raw, out = tmp_path / 'raw', tmp_path / 'idd'
    write_image(raw / 'leftImg8bit' / 'val' / '119' / '000263_leftImg8bit.jpg', 4, 6)
    # csTrainIds as IDD's toolkit writes them; 255 is IDD's own ignore.
    write_gray(raw / 'gtFine' / 'val' / '119' / '000263_gtFine_labelcsTrainIds.png',
               [[0, 0, 1, 1, 2, 2], [8, 8, 10, 10, 13, 13], [255, 255, 11, 12, 18, 18], [0, 1, 2, 3, 4, 5]])
    convert_idd(str(raw), str(out), nproc=1)

    ds = build(type='IDDDataset', data_root=str(out),
               data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
    shape, gt = sample_arrays(ds[0])
    assert len(ds) == 1 and shape == (3, 4, 6)
    assert gt[2, 0] == 255 and gt[1, 4] == 13 and gt[3, 5] == 5
    assert ds[0]['data_samples'].img_path == str(out / 'leftImg8bit' / 'val' / '119' / '000263_leftImg8bit.png')


def write_acdc_frame(root, cond, split, seq, frame, value, labelled=True):
    write_image(root / 'rgb_anon' / cond / split / seq / f'{seq}_frame_{frame}_rgb_anon.png', 5, 7)
    if labelled:
        write_gray(root / 'gt' / cond / split / seq / f'{seq}_frame_{frame}_gt_labelTrainIds.png',
                   np.full((5, 7), value))


def test_acdc_real_layout_one_condition_or_all(tmp_path):
    write_acdc_frame(tmp_path, 'fog', 'val', 'GOPR0475', '000041', 0)
    write_acdc_frame(tmp_path, 'night', 'val', 'GOPR0351', '000159', 10)
    write_acdc_frame(tmp_path, 'night', 'val', 'GOPR0351', '000200', 13)
    write_acdc_frame(tmp_path, 'rain', 'val', 'GOPR0400', '000001', 2)
    write_acdc_frame(tmp_path, 'snow', 'val', 'GOPR0122', '000001', 8)
    write_acdc_frame(tmp_path, 'fog', 'train', 'GOPR0476', '000001', 1)

    night = build(type='ACDCDataset', data_root=str(tmp_path), conditions=('night',))
    assert len(night) == 2
    shape, gt = sample_arrays(night[1])
    assert shape == (3, 5, 7) and set(np.unique(gt)) == {13}
    assert night[1]['data_samples'].seg_map_path == str(
        tmp_path / 'gt' / 'night' / 'val' / 'GOPR0351' / 'GOPR0351_frame_000200_gt_labelTrainIds.png')

    every = build(type='ACDCDataset', data_root=str(tmp_path))
    assert [int(every[i]['data_samples'].gt_sem_seg.data[0, 0, 0]) for i in range(len(every))] == [0, 10, 13, 2, 8]
    train = build(type='ACDCDataset', data_root=str(tmp_path), split='train', conditions='fog')
    assert len(train) == 1 and int(train[0]['data_samples'].gt_sem_seg.data[0, 0, 0]) == 1

    (tmp_path / 'list.txt').write_text('night/val/GOPR0351/GOPR0351_frame_000159\n')
    listed = build(type='ACDCDataset', data_root=str(tmp_path), ann_file='list.txt')
    assert len(listed) == 1 and int(listed[0]['data_samples'].gt_sem_seg.data[0, 0, 0]) == 10


def test_dark_zurich_real_layout_labelled_val_and_unlabelled_train(tmp_path):
    write_image(tmp_path / 'rgb_anon' / 'val' / 'night' / 'GOPR0356' / 'GOPR0356_frame_000321_rgb_anon.png', 6, 4)
    write_gray(tmp_path / 'gt' / 'val' / 'night' / 'GOPR0356' / 'GOPR0356_frame_000321_gt_labelTrainIds.png',
               np.full((6, 4), 10))
    write_image(tmp_path / 'rgb_anon' / 'train' / 'night' / 'GOPR0351' / 'GOPR0351_frame_000000_rgb_anon.png', 6, 4)

    val = build(type='CheckedDarkZurichDataset', data_root=str(tmp_path),
                data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'))
    shape, gt = sample_arrays(val[0])
    assert len(val) == 1 and shape == (3, 6, 4) and set(np.unique(gt)) == {10}

    train = DATASETS.build(dict(type='CheckedDarkZurichDataset', data_root=str(tmp_path),
                                data_prefix=dict(img_path='rgb_anon/train/night'),
                                pipeline=[dict(type='LoadImageChecked'), dict(type='PackSegInputs')]))
    assert len(train) == 1 and tuple(train[0]['inputs'].shape) == (3, 6, 4)
    assert 'gt_sem_seg' not in train[0]['data_samples']
