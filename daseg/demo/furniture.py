"""Street furniture of the demo scenes: poles with traffic lights, signs or lamps, small signs, trees, clutter.

Functions return `drawables`, (distance, closure) pairs that the scene paints far to near.
"""
import numpy as np

from .canvas import ACCENT, LAMP_AMBER, LAMP_GREEN, LAMP_RED, LAMP_WHITE
from .labels import DYNAMIC, POLE, STATIC, TRAFFIC_LIGHT, TRAFFIC_SIGN, UNLABELED, VEGETATION


def street_furniture(cv, layout, sp, rng):
    """Poles (bare, with traffic lights, signs or lamps), small signs, trees and clutter left unevaluated."""
    out = []

    def place(offset_lo, offset_hi, ref='road'):
        side = sp.sides[rng.integers(0, 2)]
        base = side.road if ref == 'road' else side.sidewalk
        z = sp.z_near * rng.uniform(0.8, 1.1) + rng.exponential(layout.object_range * 1.2)
        return side.sign, side.sign * (base + rng.uniform(offset_lo, offset_hi)), z

    for _ in range(rng.poisson(layout.pole_rate)):
        s, x, z = place(0.3, 0.9)
        kind = rng.choice(['light', 'sign', 'lamp'], p=_shares(layout.light_frac, layout.sign_frac))
        out.append((z, _pole(cv, s, x, z, str(kind), rng)))
    for _ in range(rng.poisson(layout.sign_rate)):
        s, x, z = place(0.2, 0.6)
        out.append((z, _pole(cv, s, x, z, 'sign', rng)))
    for _ in range(rng.poisson(layout.tree_rate)):
        s, x, z = place(-0.8, 2.0, ref='sidewalk')
        out.append((z, _tree(cv, x, z, rng)))
    for _ in range(rng.poisson(layout.clutter_rate)):
        s, x, z = place(0.5, 2.0)
        size = rng.uniform(0.4, 1.5), rng.uniform(0.5, 1.2)
        label = int(rng.choice([STATIC, UNLABELED, DYNAMIC], p=[0.6, 0.25, 0.15]))
        out.append((z, lambda x=x, z=z, size=size, label=label: _box(cv, x, z, size, label, cv.new_region(label))))
    return out


def _shares(light, sign):
    p = np.array([light, sign, max(0.0, 1 - light - sign)])
    return p / p.sum()


def _box(cv, x, z, size, label, region, y=0.0, part=0):
    """An upright rectangle facing the camera: `size` (width, height) metres, bottom at height y."""
    w, h = size
    pts = cv.cam.project([x - w / 2, x + w / 2, x + w / 2, x - w / 2], [z] * 4, [y, y, y + h, y + h])
    mask = cv.poly_mask(pts)
    cv.fill(mask, label, region, depth=z, part=part)
    return mask


def _pole(cv, s, x, z, kind, rng):
    height = {'light': rng.uniform(3.5, 6.5), 'sign': rng.uniform(2.3, 3.4), 'lamp': rng.uniform(7, 9)}[kind]
    width = max(0.22, 1.3 / cv.cam.scale(z))  # at least ~1.3 px so that far poles do not vanish
    arm = kind == 'lamp' or (kind == 'light' and rng.random() < 0.3)
    arm_len = rng.uniform(1.5, 4.5)
    lamp = int(rng.choice([LAMP_RED, LAMP_AMBER, LAMP_GREEN]))
    shape = rng.integers(0, 4)

    def draw():
        region = cv.new_region(POLE)
        _box(cv, x, z, (width, height), POLE, region)
        head_x = x - s * arm_len if arm else x
        if arm:
            _box(cv, x - s * arm_len / 2, z, (arm_len, width * 0.7), POLE, region, y=height - width * 0.7)
        if kind == 'light':
            light = cv.new_region(TRAFFIC_LIGHT)
            top = height - (0.1 if arm else -0.9)
            _box(cv, head_x, z, (0.55, 1.2), TRAFFIC_LIGHT, light, y=top - 1.2)
            k = {LAMP_RED: 0, LAMP_AMBER: 1, LAMP_GREEN: 2}[lamp]
            for i in range(3):
                _box(cv, head_x, z, (0.26, 0.26), TRAFFIC_LIGHT, light, y=top - 0.35 - 0.36 * i,
                     part=lamp if i == k else ACCENT)
            col, row = cv.cam.project(head_x, z, top - 0.22 - 0.36 * k)
            cv.lights.append((col, row, 0.3 * cv.cam.scale(z), lamp))
        elif kind == 'sign':
            _sign(cv, x, z, height, shape, cv.new_region(TRAFFIC_SIGN))
        else:
            _box(cv, head_x, z, (0.6, 0.2), POLE, region, y=height - 0.3, part=LAMP_WHITE)
            col, row = cv.cam.project(head_x, z, height - 0.3)
            cv.lights.append((col, row, 0.5 * cv.cam.scale(z), LAMP_WHITE))
    return draw


def _sign(cv, x, z, top, shape, region):
    """A sign panel (disc, triangle, rectangle or diamond) about 0.7 m across, with a darker symbol."""
    size = 0.7
    cx, cy = cv.cam.project(x, z, top - size / 2)
    r = size / 2 * cv.cam.scale(z)
    if shape == 0:
        mask = cv.ellipse_mask((cx, cy), (r, r))
    else:
        unit = {1: [(-1, 0.8), (1, 0.8), (0, -0.9)], 2: [(-1, -0.8), (1, -0.8), (1, 0.8), (-1, 0.8)],
                3: [(0, -1), (1, 0), (0, 1), (-1, 0)]}[int(shape)]
        mask = cv.poly_mask(np.array(unit) * r + (cx, cy))
    cv.fill(mask, TRAFFIC_SIGN, region, depth=z)
    cv.set_part(cv.ellipse_mask((cx, cy), (r * 0.4, r * 0.4)), ACCENT, within=region)


def _tree(cv, x, z, rng):
    trunk_h, crown = rng.uniform(1.8, 3.5), rng.uniform(1.5, 3.0)
    blobs = rng.uniform(-1, 1, (int(rng.integers(3, 7)), 2)) * (crown * 0.6, crown * 0.4)
    radii = crown * rng.uniform(0.5, 0.9, len(blobs))

    def draw():
        region = cv.new_region(VEGETATION)
        _box(cv, x, z, (0.3, trunk_h + crown * 0.5), VEGETATION, region, part=ACCENT)
        s = cv.cam.scale(z)
        for (dx, dy), r in zip(blobs, radii):
            col, row = cv.cam.project(x + dx, z, trunk_h + crown * 0.8 + dy)
            cv.fill(cv.ellipse_mask((col, row), (r * s, r * s * 0.9)), VEGETATION, region, depth=z)
    return draw
