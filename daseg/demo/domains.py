"""The demo domains: GTA-, Synthia- and Synscapes-like sources and six target-like domains.

Each target differs from the GTA-like source systematically, the way real targets do: its own colour
palette per class (consistent within the domain), lighting, weather, optics and noise, and its own layout
and class frequencies. Shapes and layout still carry over, so adaptation can recover part of the gap.
"""
from dataclasses import dataclass, replace
from typing import Callable, Optional

from ..errors import UserError
from . import writers
from .appearance import Style
from .labels import (BICYCLE, BUILDING, BUS, CAR, DYNAMIC, EGO_VEHICLE, FENCE, GROUND, GUARD_RAIL, MOTORCYCLE,
                     OUT_OF_ROI, PARKING, PERSON, POLE, RIDER, ROAD, SIDEWALK, STATIC, TERRAIN, TRAFFIC_LIGHT,
                     TRAFFIC_SIGN, TRAIN, TRUCK, UNLABELED, VEGETATION, WALL)
from .scene import Layout


@dataclass(frozen=True)
class Domain:
    """A demo domain: where and in which dataset format it is written, how many images, and its look."""
    name: str
    dataset: str  # the real dataset (and condition) whose format is written
    root: str  # dataset folder under the output folder (ACDC's two conditions share one)
    writer: Callable  # from daseg.demo.writers
    lists: bool  # whether the dataset has train.txt / val.txt listing the stems of each split
    size: tuple  # (width, height)
    train: int
    val: int
    layout: Layout
    style: Style
    finish: Optional[Callable] = None  # writes the format's files that belong to no sample, given the root


_VOID_COLORS = {UNLABELED: [(60, 60, 60)], EGO_VEHICLE: [(25, 25, 30)], OUT_OF_ROI: [(0, 0, 0)],
                STATIC: [(90, 80, 70), (60, 70, 60), (120, 110, 90)], DYNAMIC: [(140, 90, 60)],
                GROUND: [(130, 110, 85)], PARKING: [(120, 110, 115)], GUARD_RAIL: [(170, 170, 175)]}

_TEXTURE = {ROAD: (0.05, 0.10), SIDEWALK: (0.04, 0.06), BUILDING: (0.04, 0.08), WALL: (0.06, 0.08),
            FENCE: (0.05, 0.05), POLE: (0.02, 0.02), VEGETATION: (0.30, 0.25), TERRAIN: (0.18, 0.15),
            GROUND: (0.12, 0.15), CAR: (0.02, 0.02), TRUCK: (0.03, 0.03), BUS: (0.02, 0.02), TRAIN: (0.02, 0.02)}

# Materials every domain starts from (each then shifts its own palette).
_BASE = Style(colors={
    **_VOID_COLORS,
    ROAD: [(85, 85, 90), (95, 92, 95), (75, 75, 80)],
    SIDEWALK: [(175, 165, 150), (160, 155, 150)],
    BUILDING: [(165, 150, 130), (140, 130, 120), (180, 110, 80), (120, 120, 130), (200, 190, 170)],
    WALL: [(150, 150, 140), (170, 160, 140), (130, 120, 110)],
    FENCE: [(90, 85, 70), (120, 115, 100)],
    POLE: [(130, 130, 135), (100, 100, 100)],
    TRAFFIC_LIGHT: [(45, 45, 35), (60, 60, 30)],
    TRAFFIC_SIGN: [(200, 30, 30), (30, 70, 190), (230, 200, 40), (235, 235, 235)],
    VEGETATION: [(60, 115, 35), (45, 95, 30), (80, 125, 40)],
    TERRAIN: [(135, 160, 75), (150, 150, 80)],
    PERSON: [(200, 40, 40), (40, 60, 150), (220, 220, 210), (40, 40, 40), (150, 120, 60), (90, 140, 80)],
    RIDER: [(230, 120, 20), (30, 30, 30), (200, 200, 40)],
    CAR: [(180, 20, 20), (20, 40, 140), (220, 220, 220), (30, 30, 30), (150, 150, 155), (200, 170, 30),
          (50, 100, 60)],
    TRUCK: [(230, 230, 230), (200, 80, 30), (60, 80, 120)],
    BUS: [(210, 60, 40), (240, 190, 40)],
    TRAIN: [(70, 130, 170), (200, 200, 210)],
    MOTORCYCLE: [(200, 30, 30), (30, 60, 180), (40, 40, 45)],
    BICYCLE: [(30, 90, 170), (200, 200, 200), (40, 40, 40)],
}, texture=_TEXTURE)

# The GTA-like source: saturated, sharp, mostly sunny; like GTA5 some images are overcast, at dusk or hazy.
GTA_STYLE = replace(_BASE, saturation=1.15, contrast=1.1, noise=1.5, conditions=(
    (0.70, {}),
    (0.15, {'sky': ((170, 180, 195), (205, 210, 218)), 'clouds': 0.5, 'saturation': 0.85}),  # overcast
    (0.10, {'night': 0.8, 'ambient': 0.45, 'sky': ((40, 50, 90), (200, 120, 80))}),  # dusk, lights on
    (0.05, {'fog': 0.008, 'airlight': (200, 200, 205)}),  # haze
))

GTA_LAYOUT = Layout()

# Synthia-like source: camera high above the street looking down, many pedestrians, pastel rendering,
# only Synthia's 16 classes (no terrain, truck or train).
SYNTHIA_STYLE = replace(_BASE, colors={
    **_BASE.colors,
    ROAD: [(120, 118, 125)], SIDEWALK: [(205, 195, 175)],
    BUILDING: [(210, 190, 170), (170, 180, 200), (220, 160, 140)],
    VEGETATION: [(95, 165, 70), (110, 150, 60)], CAR: [(230, 60, 60), (60, 90, 200), (240, 240, 240), (90, 90, 95)],
}, sky=((120, 170, 230), (210, 225, 240)), saturation=0.9, brightness=1.1, tile=0.0)

SYNTHIA_LAYOUT = replace(GTA_LAYOUT, horizon=(0.12, 0.3), cam_height=(4.0, 7.0), focal=(0.9, 1.2), verge={
    SIDEWALK: 0.7, VEGETATION: 0.3}, far_ground=SIDEWALK, objects={
    CAR: 3.0, PERSON: 5.0, RIDER: 0.5, BUS: 0.2, BICYCLE: 0.4, MOTORCYCLE: 0.2})

# Synscapes-like source: physically based renders of European streets, close to photographs; sharp, clean
# and dense with cars and people; the sun's height and the cloud cover vary from image to image.
SYNSCAPES_STYLE = replace(_BASE, colors={
    **_BASE.colors,
    ROAD: [(92, 90, 94), (80, 80, 84)], SIDEWALK: [(168, 162, 155), (182, 172, 160)],
    BUILDING: [(188, 176, 160), (150, 140, 132), (122, 112, 106), (204, 198, 186)],
    VEGETATION: [(66, 104, 42), (56, 94, 46)], TERRAIN: [(128, 140, 82)],
    CAR: [(170, 170, 175), (30, 32, 36), (220, 220, 222), (30, 50, 110), (140, 20, 25), (90, 95, 100)],
}, sky=((115, 160, 222), (200, 214, 232)), saturation=0.95, contrast=1.05, blur=0.3, noise=1.0, tile=0.5,
    conditions=(
        (0.55, {}),
        (0.30, {'sky': ((165, 175, 190), (205, 210, 215)), 'clouds': 0.6, 'saturation': 0.8}),  # overcast
        (0.15, {'tint': (1.08, 0.98, 0.88), 'brightness': 0.85, 'sky': ((90, 110, 170), (235, 180, 120))}),  # low sun
    ))

SYNSCAPES_LAYOUT = replace(GTA_LAYOUT, horizon=(0.42, 0.5), cam_height=(1.4, 1.7), verge={SIDEWALK: 0.6, TERRAIN: 0.4},
                           building_prob=0.9, markings=0.95, crosswalk=0.3, objects={
                               CAR: 6.0, PERSON: 4.0, RIDER: 1.0, TRUCK: 0.3, BUS: 0.25, TRAIN: 0.05, BICYCLE: 1.0,
                               MOTORCYCLE: 0.4})

# Cityscapes-like target: overcast German street, muted palette, ego bonnet, dense buildings and bicycles.
CITYSCAPES_STYLE = replace(_BASE, colors={
    **_BASE.colors,
    ROAD: [(110, 105, 112), (100, 100, 105)], SIDEWALK: [(140, 140, 145), (150, 145, 140)],
    BUILDING: [(160, 155, 140), (130, 120, 110), (175, 170, 160), (110, 105, 100)],
    VEGETATION: [(70, 100, 45), (60, 90, 45)], TERRAIN: [(140, 140, 90), (120, 125, 80)],
    CAR: [(120, 120, 125), (60, 60, 65), (190, 190, 190), (40, 50, 80), (110, 30, 30)],
    BUS: [(230, 230, 225)], TRAIN: [(200, 170, 40)], TRUCK: [(200, 200, 200), (60, 60, 60)],
}, sky=((180, 188, 198), (215, 218, 222)), clouds=0.4, saturation=0.62, contrast=0.9, tint=(0.97, 1.02, 0.98),
    blur=0.8, noise=3.0, tile=0.3)

CITYSCAPES_LAYOUT = replace(GTA_LAYOUT, horizon=(0.38, 0.46), verge={SIDEWALK: 0.6, TERRAIN: 0.3, PARKING: 0.1},
                            building_prob=0.95, objects={
                                CAR: 5.0, PERSON: 2.0, RIDER: 0.5, TRUCK: 0.15, BUS: 0.1, TRAIN: 0.05,
                                BICYCLE: 0.8, MOTORCYCLE: 0.1}, motorbike_frac=0.1, ego_hood=0.1, roi_border=True)

# IDD-like target: Indian roads, warm tint and haze, JPEG, rough road edges, dirt verges, many two-wheelers.
IDD_STYLE = replace(_BASE, colors={
    **_BASE.colors,
    ROAD: [(120, 110, 100), (105, 100, 95)], SIDEWALK: [(170, 150, 120)],
    BUILDING: [(200, 160, 120), (200, 120, 100), (110, 160, 170), (220, 210, 180)],
    VEGETATION: [(90, 120, 50), (70, 100, 40)], TERRAIN: [(150, 120, 80), (165, 140, 95)],
    BUS: [(60, 120, 200), (200, 60, 60)], TRUCK: [(230, 150, 40), (40, 120, 60)],
}, sky=((150, 175, 205), (205, 210, 210)), saturation=0.9, tint=(1.04, 1.0, 0.93), fog=0.004,
    airlight=(205, 205, 200), noise=3.0, tile=0.0)

IDD_LAYOUT = replace(GTA_LAYOUT, sidewalk_prob=0.35, verge={TERRAIN: 0.5, GROUND: 0.4, VEGETATION: 0.1},
                     far_ground=GROUND, building_prob=0.55, rough_edges=1.2, markings=0.3, pole_rate=1.5,
                     light_frac=0.1, objects={CAR: 2.5, PERSON: 2.0, RIDER: 2.0, TRUCK: 0.8, BUS: 0.5, TRAIN: 0.02,
                                              BICYCLE: 0.2, MOTORCYCLE: 1.0}, motorbike_frac=0.7)

# ACDC-like: Swiss roads; Cityscapes-like materials with greener summer vegetation, less blur.
ACDC_STYLE = replace(CITYSCAPES_STYLE, colors={
    **CITYSCAPES_STYLE.colors, VEGETATION: [(70, 110, 45), (60, 100, 40)], TERRAIN: [(130, 150, 80)],
}, saturation=0.75, blur=0.6)

ACDC_LAYOUT = replace(CITYSCAPES_LAYOUT, ego_hood=0.0, roi_border=False, building_prob=0.6,
                      verge={TERRAIN: 0.5, SIDEWALK: 0.3, VEGETATION: 0.2}, tree_rate=4.0)

# At night fewer people are out; Dark Zurich drives through the dense city centre on two-lane streets.
ACDC_NIGHT_LAYOUT = replace(ACDC_LAYOUT, building_prob=0.8, objects={
    CAR: 4.0, PERSON: 1.2, RIDER: 0.3, TRUCK: 0.1, BUS: 0.15, TRAIN: 0.05, BICYCLE: 0.5, MOTORCYCLE: 0.1})
DZ_LAYOUT = replace(ACDC_LAYOUT, horizon=(0.42, 0.5), lanes=(2,), building_prob=0.9, objects={
    CAR: 3.0, PERSON: 0.8, RIDER: 0.2, TRUCK: 0.1, BUS: 0.2, TRAIN: 0.1, BICYCLE: 0.6, MOTORCYCLE: 0.1})

# ACDC-like fog: depth-dependent haze towards a grey sky.
ACDC_FOG_STYLE = replace(ACDC_STYLE, fog=0.01, airlight=(195, 198, 202))

# ACDC-like night: dark urban streets, white street lights, headlights.
ACDC_NIGHT_STYLE = replace(ACDC_STYLE, night=1.0, ambient=0.56, lamp_tint=(0.9, 0.95, 1.0), noise=4.0)

# Dark Zurich-like night: orange sodium lamps, stronger sensor noise and blur, washed-out colours.
DZ_STYLE = replace(ACDC_STYLE, night=1.0, ambient=0.65, lamp_tint=(1.0, 0.65, 0.3), noise=5.0, blur=0.8,
                   saturation=0.6)

# Mapillary-like target: street photos from all over the world by many cameras (phones, dashcams, some
# with the bonnet in view): camera height, field of view and horizon vary widely, 4:3 frames, JPEG, and each
# image has its camera's own colour rendering; brighter, more varied materials than the European domains.
MAPILLARY_STYLE = replace(_BASE, colors={
    **_BASE.colors,
    ROAD: [(70, 70, 76), (108, 102, 100), (132, 122, 110)],
    SIDEWALK: [(192, 182, 165), (152, 132, 122), (205, 205, 198)],
    BUILDING: [(232, 222, 200), (200, 92, 70), (92, 132, 170), (240, 200, 120), (160, 160, 150), (120, 170, 120)],
    VEGETATION: [(50, 112, 40), (92, 132, 52), (72, 92, 36)], TERRAIN: [(172, 150, 92), (120, 152, 70)],
    CAR: [(230, 190, 30), (235, 235, 235), (30, 30, 34), (160, 20, 20), (40, 80, 160), (150, 150, 155)],
    BUS: [(40, 140, 80), (230, 120, 30), (235, 235, 230)],
}, sky=((105, 158, 222), (198, 214, 232)), saturation=1.05, noise=3.5, tile=0.4, conditions=(
    (0.35, {}),
    (0.20, {'tint': (1.06, 1.0, 0.9), 'saturation': 1.25, 'contrast': 1.15}),  # warm, punchy phone rendering
    (0.20, {'tint': (0.92, 1.0, 1.08), 'saturation': 0.8, 'blur': 1.0, 'noise': 5.0}),  # cold, soft dashcam
    (0.15, {'sky': ((175, 180, 190), (210, 212, 215)), 'clouds': 0.6, 'saturation': 0.75}),  # overcast
    (0.10, {'night': 0.6, 'ambient': 0.5, 'noise': 6.0, 'sky': ((50, 60, 100), (210, 140, 90))}),  # dusk
))

MAPILLARY_LAYOUT = replace(GTA_LAYOUT, horizon=(0.3, 0.6), cam_height=(1.2, 2.6), focal=(0.55, 1.1),
                           lanes=(1, 2, 3, 4), sidewalk_prob=0.7, building_prob=0.7, rough_edges=0.4,
                           verge={TERRAIN: 0.4, SIDEWALK: 0.3, PARKING: 0.2, GROUND: 0.1}, objects={
                               CAR: 3.5, PERSON: 2.5, RIDER: 1.0, TRUCK: 0.4, BUS: 0.25, TRAIN: 0.1, BICYCLE: 0.6,
                               MOTORCYCLE: 0.6}, motorbike_frac=0.5, ego_hood=0.04)

DOMAINS = (
    Domain('gta', 'GTA5', 'gta', writers.gta, True, (256, 144), 350, 50, GTA_LAYOUT, GTA_STYLE),
    Domain('synthia', 'SYNTHIA-RAND-CITYSCAPES', 'synthia', writers.synthia, True, (256, 152), 260, 40,
           SYNTHIA_LAYOUT, SYNTHIA_STYLE),
    Domain('cityscapes', 'Cityscapes', 'cityscapes', writers.cityscapes, False, (256, 128), 300, 60,
           CITYSCAPES_LAYOUT, CITYSCAPES_STYLE),
    Domain('idd', 'IDD (after its toolkit)', 'idd_raw', writers.idd, False, (256, 144), 200, 60, IDD_LAYOUT,
           IDD_STYLE),
    Domain('acdc_fog', 'ACDC fog', 'acdc', writers.acdc('fog'), False, (256, 144), 150, 50, ACDC_LAYOUT,
           ACDC_FOG_STYLE),
    Domain('acdc_night', 'ACDC night', 'acdc', writers.acdc('night'), False, (256, 144), 150, 50,
           ACDC_NIGHT_LAYOUT, ACDC_NIGHT_STYLE),
    Domain('darkzurich', 'Dark Zurich night', 'darkzurich', writers.darkzurich, False, (256, 144), 200, 50,
           DZ_LAYOUT, DZ_STYLE),
    Domain('synscapes', 'Synscapes', 'synscapes', writers.synscapes, True, (256, 128), 200, 40, SYNSCAPES_LAYOUT,
           SYNSCAPES_STYLE),
    Domain('mapillary', 'Mapillary Vistas v1.2', 'mapillary', writers.mapillary, False, (256, 192), 180, 40,
           MAPILLARY_LAYOUT, MAPILLARY_STYLE, finish=writers.mapillary_config),
)
DOMAINS_BY_NAME = {d.name: d for d in DOMAINS}


def select_domains(names):
    """The domains named (all for None), in their order in DOMAINS. A folder holds whole domains only: ACDC's
    fog and night domains are generated together, since the folder of one is replaced when it is written."""
    if not names:
        return DOMAINS
    unknown = [n for n in names if n not in DOMAINS_BY_NAME]
    if unknown:
        raise UserError(f'unknown demo domain {", ".join(unknown)}; known: {", ".join(DOMAINS_BY_NAME)}')
    chosen = [d for d in DOMAINS if d.name in names]
    for d in chosen:
        partners = [o.name for o in DOMAINS if o.root == d.root and o.name not in names]
        if partners:
            raise UserError(f'demo domain {d.name} shares its folder {d.root} with {", ".join(partners)}: name both')
    return tuple(chosen)
