"""Street-scene layout: a domain's `Layout` prior sampled into a labelled `Scene` (Cityscapes labelIds)."""
from dataclasses import dataclass, field

import numpy as np

from . import furniture, objects, street
from .canvas import Camera, Canvas
from .labels import (BICYCLE, BUS, CAR, EGO_VEHICLE, MOTORCYCLE, OUT_OF_ROI, PERSON, RIDER, SIDEWALK,
                     SKY, TERRAIN, TRAIN, TRUCK)


@dataclass(frozen=True)
class Layout:
    """Layout prior of a domain; (lo, hi) pairs are uniform ranges, `*_rate` are Poisson means per image."""
    horizon: tuple = (0.40, 0.50)  # horizon row as a fraction of the image height
    cam_height: tuple = (1.4, 1.8)  # metres
    focal: tuple = (0.8, 1.0)  # focal length as a fraction of the image width
    bend: float = 0.0015  # largest street curvature (1/m)
    lanes: tuple = (2, 3, 4)
    lane_width: tuple = (3.0, 3.6)
    sidewalk_prob: float = 0.85  # per side
    sidewalk_width: tuple = (2.0, 4.5)
    verge: dict = field(default_factory=lambda: {TERRAIN: 0.5, SIDEWALK: 0.5})  # class of the strip beyond
    verge_width: tuple = (0.5, 5.0)
    far_ground: int = TERRAIN  # ground class behind everything else
    building_prob: float = 0.8  # per side: a row of buildings, else a tree line or open land
    building_height: tuple = (6.0, 28.0)
    building_gap: float = 0.25  # probability of an empty lot between two buildings
    wall_prob: float = 0.3  # per side
    fence_prob: float = 0.3
    hedge_prob: float = 0.2
    guard_rail_prob: float = 0.1
    tree_rate: float = 3.0
    pole_rate: float = 4.0
    light_frac: float = 0.35  # share of poles carrying traffic lights (the others: signs or street lamps)
    sign_frac: float = 0.45
    sign_rate: float = 0.8  # extra signs on short posts
    clutter_rate: float = 0.5  # bins, benches, carts: labelIds 4 (static), 0 (unlabeled), 5 (dynamic)
    objects: dict = field(default_factory=lambda: {
        CAR: 4.0, PERSON: 3.5, RIDER: 0.9, TRUCK: 0.35, BUS: 0.2, TRAIN: 0.08, BICYCLE: 0.6,
        MOTORCYCLE: 0.35})
    motorbike_frac: float = 0.35  # share of riders on motorcycles rather than bicycles
    crossing_frac: float = 0.15  # share of persons crossing the road
    side_view: float = 0.3  # share of vehicles seen from the side (crossing traffic)
    object_scale: tuple = (0.9, 1.1)
    object_range: float = 12.0  # mean distance (m) of objects beyond the nearest visible ground
    markings: float = 0.8  # probability of lane markings
    crosswalk: float = 0.2
    rough_edges: float = 0.0  # amplitude (m) of irregular road and strip edges
    ego_hood: float = 0.0  # height of the ego-vehicle bonnet as a fraction of the image (Cityscapes)
    roi_border: bool = False  # a 1-px 'out of roi' frame, as in Cityscapes labels


@dataclass
class Scene:
    """A drawn scene: `ids` labelIds, `region` per-shape ids, `part` details, `depth` metres, lights."""
    ids: np.ndarray
    region: np.ndarray
    region_label: np.ndarray
    part: np.ndarray
    depth: np.ndarray
    lights: list
    cam: Camera


def _camera(layout, width, height, rng):
    horizon = rng.uniform(*layout.horizon) * height
    return Camera(width=width, height_px=height, focal=rng.uniform(*layout.focal) * width,
                  cx=width / 2 + rng.normal(0, 0.04) * width, horizon=horizon,
                  height=rng.uniform(*layout.cam_height), bend=rng.uniform(-1, 1) * layout.bend)


def draw_scene(layout, width, height, rng):
    """Sample a scene of the given size from `layout`; all randomness comes from `rng`."""
    cam = _camera(layout, width, height, rng)
    cv = Canvas(cam)
    sky = cv.new_region(SKY)
    cv.ids[:] = SKY
    cv.region[:] = sky
    street_plan = street.plan(layout, cam, rng)
    street.draw_ground(cv, layout, street_plan, rng)
    street.draw_skyline(cv, rng)
    # Everything standing on the ground is painted far to near so that nearer shapes occlude.
    drawables = street.side_structures(cv, layout, street_plan, rng)
    drawables += furniture.street_furniture(cv, layout, street_plan, rng)
    drawables += objects.traffic(cv, layout, street_plan, rng)
    for _, draw in sorted(drawables, key=lambda d: -d[0]):
        draw()
    if layout.ego_hood > 0:
        _ego_hood(cv, layout.ego_hood * rng.uniform(0.8, 1.2))
    if layout.roi_border:
        region = cv.new_region(OUT_OF_ROI)
        border = np.ones(cv.ids.shape, bool)
        border[1:-1, 1:-1] = False
        cv.ids[border], cv.region[border], cv.part[border] = OUT_OF_ROI, region, 0
    return Scene(ids=cv.ids, region=cv.region, region_label=np.array(cv.region_label, np.uint8), part=cv.part,
                 depth=cv.depth, lights=cv.lights, cam=cam)


def _ego_hood(cv, frac):
    """The bonnet of the recording car: a flat arc over the bottom rows."""
    h, w = cv.ids.shape
    # Centre 2*frac*h below the image, vertical semi-axis 3*frac*h: the arc tops out at row h*(1-frac).
    mask = cv.ellipse_mask((w / 2, h + 2 * h * frac), (w * 0.75, 3 * h * frac))
    cv.fill(mask, EGO_VEHICLE, cv.new_region(EGO_VEHICLE), depth=1.0)
