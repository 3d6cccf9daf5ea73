"""Converters on the real fixtures in shared/fixtures (see its PROVENANCE.md)."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from daseg.datasets.convert.cityscapes import convert_cityscapes
from daseg.datasets.convert.synthia import convert_synthia

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures'


def fixture_copy(name, dst):
    src = FIXTURES / name
    if not src.is_dir():
        pytest.skip(f'real fixture {src} not found (shared/ must sit beside the clone)')
    shutil.copytree(src, dst, copy_function=shutil.copyfile)  # copyfile: the fixtures are read-only
    return dst


def test_cityscapes_labelids_reproduce_shipped_trainids(tmp_path):
    root = fixture_copy('cityscapes', tmp_path / 'cityscapes')
    folder = root / 'gtFine' / 'val' / 'frankfurt'
    target = folder / 'frankfurt_000000_000294_gtFine_labelTrainIds.png'
    shipped = np.asarray(Image.open(target))
    target.unlink()
    convert_cityscapes(str(root), nproc=1)
    ours = np.asarray(Image.open(target))
    assert ours.shape == shipped.shape == (128, 256)
    # The shipped files were resized separately, so they differ on object boundaries (PROVENANCE.md).
    assert (ours == shipped).mean() >= 0.995
    # Exactly the standard table applied to the shipped labelIds, written out here by hand.
    table = np.full(256, 255, np.uint8)
    table[[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]] = np.arange(19)
    label_ids = np.asarray(Image.open(folder / 'frankfurt_000000_000294_gtFine_labelIds.png'))
    np.testing.assert_array_equal(ours, table[label_ids])


def test_synthia_16bit_fixture(tmp_path):
    root = fixture_copy('synthia_format_synthetic', tmp_path / 'synthia')
    convert_synthia(str(root), nproc=1)
    labels = root / 'GT' / 'LABELS' / 'Stereo_Left'
    omni_b1 = cv2.imread(str(labels / 'Omni_B' / '000001_labelTrainIds.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(omni_b1, [[13, 18, 18, 0, 0]])  # SYNTHIA ids [8, 11, 11, 3, 3]
    omni_f0 = cv2.imread(str(labels / 'Omni_F' / '000000_labelTrainIds.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(omni_f0, [[10, 10, 2, 2, 0]])  # SYNTHIA ids [1, 1, 2, 2, 3]
