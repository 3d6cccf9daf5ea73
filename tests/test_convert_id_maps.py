"""The converters' id -> trainId maps, value by value, against tables written out here from the datasets'
own class lists (independent of daseg/label_maps.py)."""
import cv2
import numpy as np
from PIL import Image

from daseg.datasets.convert.cityscapes import convert_cityscapes
from daseg.datasets.convert.gta import convert_gta
from daseg.datasets.convert.synthia import convert_synthia

# Cityscapes labelId -> trainId (cityscapesscripts' labels table); GTA5 uses the same labelIds.
CITYSCAPES_TABLE = {
    0: 255,   # unlabeled
    1: 255,   # ego vehicle
    2: 255,   # rectification border
    3: 255,   # out of roi
    4: 255,   # static
    5: 255,   # dynamic
    6: 255,   # ground
    7: 0,     # road
    8: 1,     # sidewalk
    9: 255,   # parking
    10: 255,  # rail track
    11: 2,    # building
    12: 3,    # wall
    13: 4,    # fence
    14: 255,  # guard rail
    15: 255,  # bridge
    16: 255,  # tunnel
    17: 5,    # pole
    18: 255,  # polegroup
    19: 6,    # traffic light
    20: 7,    # traffic sign
    21: 8,    # vegetation
    22: 9,    # terrain
    23: 10,   # sky
    24: 11,   # person
    25: 12,   # rider
    26: 13,   # car
    27: 14,   # truck
    28: 15,   # bus
    29: 255,  # caravan
    30: 255,  # trailer
    31: 16,   # train
    32: 17,   # motorcycle
    33: 18,   # bicycle
}

# SYNTHIA-RAND-CITYSCAPES class id -> trainId, as DAFormer's converter maps them: all 19 classes (terrain, truck
# and train are rare in SYNTHIA, which is why it is also evaluated without them).
SYNTHIA_TABLE = {
    0: 255,   # void
    1: 10,    # sky
    2: 2,     # building
    3: 0,     # road
    4: 1,     # sidewalk
    5: 4,     # fence
    6: 8,     # vegetation
    7: 5,     # pole
    8: 13,    # car
    9: 7,     # traffic sign
    10: 11,   # pedestrian
    11: 18,   # bicycle
    12: 17,   # motorcycle
    13: 255,  # parking-slot
    14: 255,  # road-work
    15: 6,    # traffic light
    16: 9,    # terrain
    17: 12,   # rider
    18: 14,   # truck
    19: 15,   # bus
    20: 16,   # train
    21: 3,    # wall
    22: 255,  # lanemarking
    **{i: 255 for i in range(23, 34)},  # not SYNTHIA classes
}

OUT_OF_RANGE_8BIT = [34, 100, 254, 255]
OUT_OF_RANGE_16BIT = [255, 256, 300, 1027, 65535]


def converted(path):
    out = np.asarray(Image.open(path))
    assert out.dtype == np.uint8 and out.ndim == 2
    return out


def test_gta_map_every_id(tmp_path):
    ids = np.array(list(range(34)) + OUT_OF_RANGE_8BIT, dtype=np.uint8).reshape(2, 19)
    label = Image.fromarray(ids, 'L')
    label.putpalette([v for i in range(256) for v in (i, i, i)])
    (tmp_path / 'labels').mkdir()
    label.save(tmp_path / 'labels' / '00001.png')
    convert_gta(str(tmp_path), nproc=1)
    out = converted(tmp_path / 'labels' / '00001_labelTrainIds.png')
    expected = [CITYSCAPES_TABLE[i] for i in range(34)] + [255] * len(OUT_OF_RANGE_8BIT)
    assert out.ravel().tolist() == expected


def test_cityscapes_map_every_id(tmp_path):
    ids = np.array(list(range(34)) + OUT_OF_RANGE_8BIT, dtype=np.uint8).reshape(2, 19)
    folder = tmp_path / 'gtFine' / 'train' / 'aachen'
    folder.mkdir(parents=True)
    Image.fromarray(ids, 'L').save(folder / 'aachen_000000_000019_gtFine_labelIds.png')
    convert_cityscapes(str(tmp_path), nproc=1)
    out = converted(folder / 'aachen_000000_000019_gtFine_labelTrainIds.png')
    expected = [CITYSCAPES_TABLE[i] for i in range(34)] + [255] * len(OUT_OF_RANGE_8BIT)
    assert out.ravel().tolist() == expected


def test_synthia_map_every_id(tmp_path):
    ids = np.array(list(range(34)) + OUT_OF_RANGE_16BIT, dtype=np.uint16).reshape(3, 13)
    instance = np.arange(ids.size, dtype=np.uint16).reshape(ids.shape) * 1000  # must not leak into classes
    (tmp_path / 'GT' / 'LABELS').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'GT' / 'LABELS' / '0000000.png'), np.stack([np.zeros_like(ids), instance, ids], -1))
    convert_synthia(str(tmp_path), nproc=1)
    out = converted(tmp_path / 'GT' / 'LABELS' / '0000000_labelTrainIds.png')
    expected = [SYNTHIA_TABLE[i] for i in range(34)] + [255] * len(OUT_OF_RANGE_16BIT)
    assert out.ravel().tolist() == expected
