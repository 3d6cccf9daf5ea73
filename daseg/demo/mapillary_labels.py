"""The Mapillary-like domain's labels: a subset of Mapillary Vistas v1.2's label list, and a demo scene's
Cityscapes labelIds (with its parts and shapes) expressed in it.

The subset keeps the release's order, names and colours but not its indices (55 of the 66 labels), so a
converter must read the label list instead of assuming the release's numbering. It holds every label that a
rule of the Mapillary converter needs (exact class names, and 'Traffic Sign Frame', 'On Rails', 'Bicyclist',
'Street Light', 'Curb', 'Crosswalk - Plain', 'Lane Marking - General', ...) and labels that no rule maps.
"""
import numpy as np

from .canvas import ACCENT, LAMP_WHITE, MARKING
from .labels import (BICYCLE, BUILDING, BUS, CAR, DYNAMIC, EGO_VEHICLE, FENCE, GROUND, GUARD_RAIL, MOTORCYCLE,
                     OUT_OF_ROI, PARKING, PERSON, POLE, RIDER, ROAD, SIDEWALK, SKY, STATIC, TERRAIN, TRAFFIC_LIGHT,
                     TRAFFIC_SIGN, TRAIN, TRUCK, UNLABELED, VEGETATION, WALL)

# (name, readable, colour, has instances), in the order of config_v1.2.json.
_LABELS = (
    ('animal--bird', 'Bird', (165, 42, 42), True),
    ('construction--barrier--curb', 'Curb', (196, 196, 196), False),
    ('construction--barrier--fence', 'Fence', (190, 153, 153), False),
    ('construction--barrier--guard-rail', 'Guard Rail', (180, 165, 180), False),
    ('construction--barrier--other-barrier', 'Barrier', (90, 120, 150), False),
    ('construction--barrier--wall', 'Wall', (102, 102, 156), False),
    ('construction--flat--bike-lane', 'Bike Lane', (128, 64, 255), False),
    ('construction--flat--crosswalk-plain', 'Crosswalk - Plain', (140, 140, 200), True),
    ('construction--flat--curb-cut', 'Curb Cut', (170, 170, 170), False),
    ('construction--flat--parking', 'Parking', (250, 170, 160), False),
    ('construction--flat--pedestrian-area', 'Pedestrian Area', (96, 96, 96), False),
    ('construction--flat--rail-track', 'Rail Track', (230, 150, 140), False),
    ('construction--flat--road', 'Road', (128, 64, 128), False),
    ('construction--flat--service-lane', 'Service Lane', (110, 110, 110), False),
    ('construction--flat--sidewalk', 'Sidewalk', (244, 35, 232), False),
    ('construction--structure--bridge', 'Bridge', (150, 100, 100), False),
    ('construction--structure--building', 'Building', (70, 70, 70), False),
    ('human--person', 'Person', (220, 20, 60), True),
    ('human--rider--bicyclist', 'Bicyclist', (255, 0, 0), True),
    ('human--rider--motorcyclist', 'Motorcyclist', (255, 0, 100), True),
    ('human--rider--other-rider', 'Other Rider', (255, 0, 200), True),
    ('marking--crosswalk-zebra', 'Lane Marking - Crosswalk', (200, 128, 128), True),
    ('marking--general', 'Lane Marking - General', (255, 255, 255), False),
    ('nature--mountain', 'Mountain', (64, 170, 64), False),
    ('nature--sand', 'Sand', (230, 160, 50), False),
    ('nature--sky', 'Sky', (70, 130, 180), False),
    ('nature--terrain', 'Terrain', (152, 251, 152), False),
    ('nature--vegetation', 'Vegetation', (107, 142, 35), False),
    ('nature--water', 'Water', (0, 170, 30), False),
    ('object--banner', 'Banner', (255, 255, 128), True),
    ('object--bench', 'Bench', (250, 0, 30), True),
    ('object--billboard', 'Billboard', (220, 220, 220), True),
    ('object--junction-box', 'Junction Box', (40, 40, 40), True),
    ('object--phone-booth', 'Phone Booth', (142, 0, 0), True),
    ('object--street-light', 'Street Light', (210, 170, 100), True),
    ('object--support--pole', 'Pole', (153, 153, 153), True),
    ('object--support--traffic-sign-frame', 'Traffic Sign Frame', (128, 128, 128), True),
    ('object--support--utility-pole', 'Utility Pole', (0, 0, 80), True),
    ('object--traffic-light', 'Traffic Light', (250, 170, 30), True),
    ('object--traffic-sign--back', 'Traffic Sign (Back)', (192, 192, 192), True),
    ('object--traffic-sign--front', 'Traffic Sign (Front)', (220, 220, 0), True),
    ('object--trash-can', 'Trash Can', (140, 140, 20), True),
    ('object--vehicle--bicycle', 'Bicycle', (119, 11, 32), True),
    ('object--vehicle--bus', 'Bus', (0, 60, 100), True),
    ('object--vehicle--car', 'Car', (0, 0, 142), True),
    ('object--vehicle--caravan', 'Caravan', (0, 0, 90), True),
    ('object--vehicle--motorcycle', 'Motorcycle', (0, 0, 230), True),
    ('object--vehicle--on-rails', 'On Rails', (0, 80, 100), False),
    ('object--vehicle--other-vehicle', 'Other Vehicle', (128, 64, 64), True),
    ('object--vehicle--trailer', 'Trailer', (0, 0, 110), True),
    ('object--vehicle--truck', 'Truck', (0, 0, 70), True),
    ('object--vehicle--wheeled-slow', 'Wheeled Slow', (0, 0, 192), True),
    ('void--car-mount', 'Car Mount', (32, 32, 32), False),
    ('void--ego-vehicle', 'Ego Vehicle', (120, 10, 10), False),
    ('void--unlabeled', 'Unlabeled', (0, 0, 0), False),
)

CONFIG = {'labels': [dict(color=list(color), instances=instances, readable=readable, name=name,
                          evaluate=readable != 'Unlabeled') for name, readable, color, instances in _LABELS]}
# uint8 (256, 3): the colour of each label index, the palette of the label PNGs.
PALETTE = np.zeros((256, 3), np.uint8)
PALETTE[:len(_LABELS)] = [color for _, _, color, _ in _LABELS]
INDEX = {readable: i for i, (_, readable, _, _) in enumerate(_LABELS)}

# What each labelId of the scenes is labelled as; parts and shapes refine some of them in `mapillary_indices`.
_BY_LABEL_ID = {
    UNLABELED: 'Unlabeled', EGO_VEHICLE: 'Ego Vehicle', OUT_OF_ROI: 'Unlabeled', STATIC: 'Bench',
    DYNAMIC: 'Wheeled Slow', GROUND: 'Sand', PARKING: 'Parking', ROAD: 'Road', SIDEWALK: 'Sidewalk',
    BUILDING: 'Building', WALL: 'Wall', FENCE: 'Fence', GUARD_RAIL: 'Guard Rail', POLE: 'Pole',
    TRAFFIC_LIGHT: 'Traffic Light', TRAFFIC_SIGN: 'Traffic Sign (Front)', VEGETATION: 'Vegetation',
    TERRAIN: 'Terrain', SKY: 'Sky', PERSON: 'Person', RIDER: 'Bicyclist', CAR: 'Car', TRUCK: 'Truck', BUS: 'Bus',
    TRAIN: 'On Rails', MOTORCYCLE: 'Motorcycle', BICYCLE: 'Bicycle'}
_LUT = np.full(256, INDEX['Unlabeled'], np.uint8)
for _label_id, _readable in _BY_LABEL_ID.items():
    _LUT[_label_id] = INDEX[_readable]


def mapillary_indices(scene):
    """Label indices (into `CONFIG['labels']`) of a scene, shape (H, W) uint8.

    Beyond the labelId: lane markings and the curb strip have labels of their own, poles carrying a lamp are
    street lights, and by shape some poles are utility poles, some signs are seen from the back, some riders
    are motorcyclists and some street clutter is trash cans or junction boxes. Every refinement keeps the
    Cityscapes class (of the Mapillary converter's rules), except that parking becomes road there, while
    Cityscapes ignores it.
    """
    ids, part, region = scene.ids, scene.part, scene.region
    out = _LUT[ids]
    odd = region % 2 == 1
    out[(ids == ROAD) & (part == MARKING)] = INDEX['Lane Marking - General']
    out[(ids == SIDEWALK) & (part == ACCENT)] = INDEX['Curb']
    out[(ids == POLE) & odd] = INDEX['Utility Pole']
    lamps = np.unique(region[(ids == POLE) & (part == LAMP_WHITE)])
    out[(ids == POLE) & np.isin(region, lamps)] = INDEX['Street Light']
    out[(ids == TRAFFIC_SIGN) & odd] = INDEX['Traffic Sign (Back)']
    out[(ids == RIDER) & odd] = INDEX['Motorcyclist']
    out[(ids == STATIC) & (region % 3 == 1)] = INDEX['Trash Can']
    out[(ids == STATIC) & (region % 3 == 2)] = INDEX['Junction Box']
    return out
