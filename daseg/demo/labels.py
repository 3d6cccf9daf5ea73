"""Cityscapes labelIds used by the demo scenes, their colours, and the Synthia id of each.

Scenes are drawn in Cityscapes labelId space (0..33) because it is a superset of every format written
here: trainIds and SYNTHIA ids are derived from it with lookup tables.
"""
import numpy as np

from ..classes import SYNTHIA_16
from ..label_maps import CITYSCAPES_ID_TO_TRAINID, SYNTHIA_ID_TO_TRAINID, to_lut

# Cityscapes labelIds by name (only those the scenes draw).
UNLABELED, EGO_VEHICLE, OUT_OF_ROI, STATIC, DYNAMIC, GROUND, PARKING = 0, 1, 3, 4, 5, 6, 9
ROAD, SIDEWALK, BUILDING, WALL, FENCE, GUARD_RAIL = 7, 8, 11, 12, 13, 14
POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION, TERRAIN, SKY = 17, 19, 20, 21, 22, 23
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = 24, 25, 26, 27, 28, 31, 32, 33

THING_IDS = (PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE)

# The official Cityscapes colour of every labelId 0..33 (GTA5 label palettes and *_color.png use these).
LABEL_COLORS = np.array([
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (111, 74, 0), (81, 0, 81), (128, 64, 128),
    (244, 35, 232), (250, 170, 160), (230, 150, 140), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153), (153, 153, 153), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100), (0, 0, 230), (119, 11, 32)],
    dtype=np.uint8)

TRAINID_LUT = to_lut(CITYSCAPES_ID_TO_TRAINID)

# labelId -> SYNTHIA id: the inverse of the SYNTHIA table composed with the Cityscapes one; every
# labelId without a Synthia class becomes 0 (void), and so do terrain, truck and train, which the demo's
# Synthia-like domain lacks as the real one nearly does.
_TRAINID_TO_SYNTHIA = {t: s for s, t in SYNTHIA_ID_TO_TRAINID.items() if t in SYNTHIA_16}
SYNTHIA_LUT = np.zeros(256, dtype=np.uint16)
for _label_id, _train_id in CITYSCAPES_ID_TO_TRAINID.items():
    SYNTHIA_LUT[_label_id] = _TRAINID_TO_SYNTHIA.get(_train_id, 0)
