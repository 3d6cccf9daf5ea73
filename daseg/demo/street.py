"""The static street: ground strips, distant skyline, building rows, walls and fences (poles and trees are in
:mod:`daseg.demo.furniture`).

Functions that return `drawables` give (distance, closure) pairs that the scene paints far to near.
"""
from dataclasses import dataclass

import numpy as np

from .canvas import ACCENT, GLASS, MARKING, WINDOW_LIT
from .labels import BUILDING, FENCE, GUARD_RAIL, ROAD, SIDEWALK, VEGETATION, WALL

Z_FAR = 400.0  # metres: where the ground strips end (about the horizon)


@dataclass
class Side:
    """One side of the street; distances are |X| in metres from the camera's line."""
    sign: int  # -1 left, +1 right
    road: float  # road edge
    sidewalk: float  # outer edge of the sidewalk (== road without one)
    verge: float  # outer edge of the verge strip
    verge_label: int
    kind: str  # behind the verge: 'buildings', 'trees' or 'open'


@dataclass
class StreetPlan:
    """Lanes and the two sides sampled for one scene."""
    lanes: int
    lane_width: float
    sides: tuple
    z_near: float
    wobble: object  # wobble(z, k): irregular offset (m) of strip edge k at distances z


def plan(layout, cam, rng):
    """Sample lanes, sidewalks, verges and what lines the street."""
    lanes = int(rng.choice(layout.lanes))
    lane_width = rng.uniform(*layout.lane_width)
    own_lane = rng.integers(0, lanes)
    edges = ((own_lane + 0.5) * lane_width, (lanes - own_lane - 0.5) * lane_width)
    labels, probs = zip(*layout.verge.items())
    sides = []
    for sign, road in zip((-1, 1), edges):
        walk = road + (rng.uniform(*layout.sidewalk_width) if rng.random() < layout.sidewalk_prob else 0.0)
        verge = walk + rng.uniform(*layout.verge_width)
        kind = 'buildings' if rng.random() < layout.building_prob else ('trees' if rng.random() < 0.6 else 'open')
        sides.append(Side(sign, road, walk, verge, int(rng.choice(labels, p=np.array(probs) / sum(probs))), kind))
    freqs, phases = rng.uniform(0.03, 0.3, (8, 3)), rng.uniform(0, 2 * np.pi, (8, 3))
    amp = layout.rough_edges

    def wobble(z, k):
        return amp * np.sin(np.multiply.outer(z, freqs[k]) + phases[k]).mean(-1)

    return StreetPlan(lanes, lane_width, tuple(sides), cam.z_near(), wobble)


def _strip(cv, x_inner, x_outer, z0, z1, n=40):
    """Polygon of the ground between lateral positions x_inner(z) and x_outer(z) (signed metres)."""
    zs = np.geomspace(z0, z1, n)
    return cv.poly_mask(np.concatenate([cv.cam.project(x_inner(zs), zs), cv.cam.project(x_outer(zs), zs)[::-1]]))


def draw_ground(cv, layout, sp, rng):
    """Far ground, then each side's verge and sidewalk, then the road with its markings."""
    h = cv.ids.shape[0]
    rows = np.arange(h) > cv.cam.horizon
    ground = cv.new_region(layout.far_ground)
    cv.ids[rows], cv.region[rows] = layout.far_ground, ground
    z0 = 0.5 * sp.z_near
    for k, side in enumerate(sp.sides):
        s = side.sign
        if side.verge > side.sidewalk:
            cv.fill(_strip(cv, lambda z: 0 * z, lambda z: s * (side.verge + sp.wobble(z, 4 + k)), z0, Z_FAR),
                    side.verge_label, cv.new_region(side.verge_label))
        if side.sidewalk > side.road:
            walk = cv.new_region(SIDEWALK)
            cv.fill(_strip(cv, lambda z: 0 * z, lambda z: s * (side.sidewalk + sp.wobble(z, 2 + k)), z0, Z_FAR),
                    SIDEWALK, walk)
            curb = _strip(cv, lambda z: s * side.road, lambda z: s * (side.road + 0.25), z0, Z_FAR)
            cv.set_part(curb, ACCENT, within=walk)
    left, right = sp.sides
    road = cv.new_region(ROAD)
    cv.fill(_strip(cv, lambda z: -left.road + sp.wobble(z, 0), lambda z: right.road + sp.wobble(z, 1), z0, Z_FAR),
            ROAD, road)
    if rng.random() < layout.markings:
        _lane_markings(cv, sp, road, rng)
    if rng.random() < layout.crosswalk:
        zc = sp.z_near + rng.uniform(2, 20)
        for x in np.arange(-left.road + 0.5, right.road - 0.5, 1.0):
            cv.set_part(_strip(cv, lambda z: x + 0 * z, lambda z: x + 0.5 + 0 * z, zc, zc + 3, 4), MARKING, road)


def _lane_markings(cv, sp, road, rng):
    left = sp.sides[0].road
    phase = rng.uniform(0, 9)
    for k in range(1, sp.lanes):
        x = -left + k * sp.lane_width
        for z in np.arange(sp.z_near * 0.7 + phase, 90, 9.0):
            cv.set_part(_strip(cv, lambda q: x - 0.08 + 0 * q, lambda q: x + 0.08 + 0 * q, z, z + 3, 3),
                        MARKING, road)


def draw_skyline(cv, rng):
    """Distant buildings and trees standing on the horizon."""
    if rng.random() < 0.15:
        return
    h, w = cv.ids.shape
    x, hz = 0.0, cv.cam.horizon
    while x < w:
        seg = rng.uniform(0.03, 0.12) * w
        top = rng.uniform(0.01, 0.08) * h
        if rng.random() < 0.6:
            pts = [(x, hz + 1), (x, hz - top), (x + seg, hz - top), (x + seg, hz + 1)]
            label = BUILDING
        else:
            xs = np.linspace(x, x + seg, 8)
            tops = hz - top * rng.uniform(0.5, 1.0, 8)
            pts = np.concatenate([[(x, hz + 1)], np.stack([xs, tops], 1), [(x + seg, hz + 1)]])
            label = VEGETATION
        mask = cv.poly_mask(pts)
        sl, m = mask
        cv.fill((sl, m & (cv.depth[sl] >= 300)), label, cv.new_region(label), depth=250.0)
        x += seg


def plane_coords(cv, x, z0, z1, box):
    """Distance along the street (per column) and height above ground (per pixel) of the vertical plane
    at lateral position x between z0 and z1, over a mask box."""
    rows, cols = (np.arange(s.start, s.stop) + 0.5 for s in box)
    zs = np.geomspace(z0, z1, 32)
    xc = cv.cam.project(x, zs)[:, 0]
    order = np.argsort(xc)
    zcol = np.interp(cols, xc[order], zs[order])
    height = cv.cam.height - (rows[:, None] - cv.cam.horizon) * zcol[None, :] / cv.cam.focal
    return np.broadcast_to(zcol, height.shape), height


def _plane(cv, x, z0, z1, top, label, region, n=8):
    """Paint a vertical plane at lateral x from z0 to z1 with top height `top` (scalar or per sample)."""
    zs = np.geomspace(z0, z1, n)
    top = np.broadcast_to(top, zs.shape)
    mask = cv.poly_mask(np.concatenate([cv.cam.project(x, zs), cv.cam.project(x, zs, top)[::-1]]))
    zmap, height = plane_coords(cv, x, z0, z1, mask.box)
    cv.fill(mask, label, region, depth=zmap)
    return mask, zmap, height


def side_structures(cv, layout, sp, rng):
    """Building rows or tree lines, walls, fences, hedges and guard rails along both sides."""
    out = []
    for side in sp.sides:
        s, z_start = side.sign, sp.z_near * rng.uniform(0.2, 1.0)
        x_built = s * (side.verge + rng.uniform(0, 2))
        if side.kind == 'buildings':
            z = z_start
            while z < 160:
                if rng.random() < layout.building_gap:
                    z += rng.uniform(4, 15)
                    continue
                length = rng.uniform(8, 30)
                out.append((z + length, _building(cv, x_built, z, z + length, rng.uniform(*layout.building_height),
                                                  rng)))
                z += length
        elif side.kind == 'trees':
            tops = rng.uniform(6, 16) * rng.uniform(0.7, 1.0, 24)
            region = cv.new_region(VEGETATION)
            out.append((Z_FAR, lambda x=x_built, t=tops, r=region: _plane(cv, x, z_start, Z_FAR, t, VEGETATION, r,
                                                                           n=24)))
        for label, prob, x, heights in ((WALL, layout.wall_prob, side.sidewalk + 0.2, (0.8, 2.5)),
                                        (FENCE, layout.fence_prob, side.verge, (1.0, 2.2)),
                                        (VEGETATION, layout.hedge_prob, side.sidewalk + 0.5, (0.7, 1.8)),
                                        (GUARD_RAIL, layout.guard_rail_prob, side.road + 0.3, (0.7, 0.9))):
            if rng.random() < prob:
                z0 = sp.z_near * rng.uniform(0.3, 1.2) + rng.exponential(10)
                z1 = z0 + rng.uniform(10, 50)
                out.append((z1, _barrier(cv, label, s * x, z0, z1, rng.uniform(*heights), rng)))
    return out


def _building(cv, x, z0, z1, height, rng):
    region = cv.new_region(BUILDING)
    col_step, floor = rng.uniform(2.5, 4.0), rng.uniform(3.0, 3.6)
    win_w, win_h = rng.uniform(0.35, 0.7), rng.uniform(0.35, 0.6)
    lit_share, salt = rng.uniform(0.1, 0.5), int(rng.integers(1 << 20))

    def draw():
        if z0 > 0.5:  # the block's near end wall, seen at an angle: the shaded face
            pts = cv.cam.project([x, x + np.sign(x) * 12, x + np.sign(x) * 12, x], [z0] * 4,
                                 [0, 0, height, height])
            cv.fill(cv.poly_mask(pts), BUILDING, region, depth=z0, part=ACCENT)
        mask, zmap, v = _plane(cv, x, max(z0, 0.3), z1, height, BUILDING, region)
        fu, fv = (zmap / col_step) % 1, (v / floor) % 1
        win = ((np.abs(fu - 0.5) < win_w / 2) & (fv > 0.3) & (fv < 0.3 + win_h) & (v > 1.0)
               & (v < height - 1.0))
        cell = (np.floor(zmap / col_step).astype(np.int64) * 7919 + np.floor(v / floor).astype(np.int64) * 104729
                + salt)
        lit = (cell * 2654435761 % 1000) < lit_share * 1000
        sl, m = mask
        cv.set_part((sl, m & win & ~lit), GLASS, within=region)
        cv.set_part((sl, m & win & lit), WINDOW_LIT, within=region)
    return draw


def _barrier(cv, label, x, z0, z1, height, rng):
    region = cv.new_region(label)
    tops = height * (rng.uniform(0.75, 1.0, 12) if label == VEGETATION else np.ones(12))
    bar, rail = rng.uniform(0.15, 0.4), rng.uniform(0.25, 0.4)

    def draw():
        mask, zmap, v = _plane(cv, x, z0, z1, tops, label, region, n=12)
        sl, m = mask
        if label == FENCE:  # vertical bars and a top rail
            cv.set_part((sl, m & (((zmap / bar) % 1 < 0.4) | (v > height - 0.12))), ACCENT, within=region)
        elif label == WALL:  # courses of blocks
            cv.set_part((sl, m & ((v / rail) % 1 < 0.15)), ACCENT, within=region)
    return draw
