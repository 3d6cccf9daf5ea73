"""Traffic: vehicles, pedestrians, riders and parked two-wheelers, as flat sprites facing the camera.

Each sprite is built from simple shapes in metres around its ground point; parts (glass, tyres, lamps,
skin) change only appearance. Riders are painted over their bicycle or motorcycle, as Cityscapes labels do.
"""
import numpy as np

from .canvas import ACCENT, GLASS, LAMP_RED, LAMP_WHITE, SKIN, TYRE
from .labels import BICYCLE, BUS, CAR, MOTORCYCLE, PERSON, RIDER, TRAIN, TRUCK

# (width, height, side-view length) in metres of each vehicle class.
_SIZES = {CAR: (1.8, 1.5, 4.4), TRUCK: (2.5, 3.4, 8.5), BUS: (2.55, 3.1, 12.0), TRAIN: (2.65, 3.7, 30.0)}
_WHEEL = {CAR: 0.33, TRUCK: 0.5, BUS: 0.5, TRAIN: 0.4}


class Sprite:
    """Shapes in sprite metres (x to the right of the ground point, y up), painted as one region."""

    def __init__(self, cv, label, x, z):
        self.cv, self.label, self.z = cv, label, z
        self.col, self.row = cv.cam.project(x, z)
        self.s = cv.cam.scale(z)
        self.region = cv.new_region(label)

    def _px(self, pts):
        pts = np.asarray(pts, float)
        return np.stack([self.col + pts[:, 0] * self.s, self.row - pts[:, 1] * self.s], 1)

    def poly(self, pts, part=0, label=None):
        """Fill a polygon (or only mark `part` on the sprite when label is False)."""
        self._paint(self.cv.poly_mask(self._px(pts)), part, label)

    def rect(self, x0, x1, y0, y1, part=0, label=None):
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], part, label)

    def ellipse(self, x, y, rx, ry, part=0, label=None, thickness=-1.0):
        (c,) = self._px([(x, y)])
        t = -1 if thickness < 0 else thickness * self.s
        self._paint(self.cv.ellipse_mask(c, (rx * self.s, ry * self.s), t), part, label)

    def line(self, p0, p1, width, part=0, label=None):
        a, b = self._px([p0, p1])
        self._paint(self.cv.line_mask(a, b, max(1.0, width * self.s)), part, label)

    def _paint(self, mask, part, label):
        if label is False:
            self.cv.set_part(mask, part, within=self.region)
        else:
            self.cv.fill(mask, self.label if label is None else label, self.region, self.z, part)

    def light(self, x, y, radius, part):
        """Register a light source for night rendering."""
        (c,) = self._px([(x, y)])
        self.cv.lights.append((c[0], c[1], radius * self.s, part))


def traffic(cv, layout, sp, rng):
    """Sample every vehicle, person and two-wheeler of the scene as (distance, closure) drawables."""
    out = []
    left, right = sp.sides
    lanes = -left.road + (np.arange(sp.lanes) + 0.5) * sp.lane_width

    def sidewalk_x():
        side = sp.sides[rng.integers(0, 2)]
        return side.sign * rng.uniform(side.road + 0.4, max(side.sidewalk, side.road + 1.0))

    for label, rate in layout.objects.items():
        for _ in range(rng.poisson(rate)):
            z = sp.z_near + 1.0 + rng.exponential(layout.object_range)
            scale = rng.uniform(*layout.object_scale)
            if label in _SIZES:
                if label == CAR and rng.random() < 0.3:  # parked along either kerb
                    x = (right.road - 1.1) if rng.random() < 0.5 else -(left.road - 1.1)
                else:
                    x = rng.choice(lanes) + rng.normal(0, 0.3)
                side = rng.random() < (0.5 if label == TRAIN else layout.side_view)
                out.append((z, _vehicle(cv, label, x, z, scale, side, rng)))
            elif label == PERSON:
                x = rng.uniform(-left.road, right.road) if rng.random() < layout.crossing_frac else sidewalk_x()
                out.append((z, _person(cv, x, z, scale, rng)))
            elif label == RIDER:
                bike = MOTORCYCLE if rng.random() < layout.motorbike_frac else BICYCLE
                x = rng.choice(lanes) + rng.normal(0, 0.5)
                out.append((z, _two_wheeler(cv, bike, x, z, scale, rng, rider=True)))
            else:
                out.append((z, _two_wheeler(cv, label, sidewalk_x(), z, scale, rng, rider=False)))
    return out


def _vehicle(cv, label, x, z, scale, side, rng):
    width, height, length = (v * scale for v in _SIZES[label])
    facing = int(rng.choice([-1, 1]))
    oncoming = rng.random() < 0.3  # shows its front: headlights instead of tail lights
    stripe = rng.random() < 0.5

    def draw():
        sp = Sprite(cv, label, x, z)
        if side:
            _side_body(sp, label, length, height, facing, stripe)
        else:
            _rear_body(sp, label, width, height, stripe)
            front = oncoming or label == TRAIN
            lamp = LAMP_WHITE if front else LAMP_RED
            for sx in (-1, 1):
                lx = sx * width * 0.4
                sp.rect(lx - 0.13, lx + 0.13, 0.3 * height, 0.38 * height, lamp, label=False)
                sp.light(lx, 0.34 * height, 0.3, lamp)
    return draw


def _rear_body(sp, label, width, height, stripe):
    w = width / 2
    if label == CAR:
        sp.rect(-w, w, 0.12 * height, 0.6 * height)
        sp.poly([(-w * 0.92, 0.6 * height), (w * 0.92, 0.6 * height), (w * 0.7, height), (-w * 0.7, height)])
        sp.poly([(-w * 0.78, 0.64 * height), (w * 0.78, 0.64 * height), (w * 0.62, 0.94 * height),
                 (-w * 0.62, 0.94 * height)], GLASS, label=False)
        sp.rect(-0.25, 0.25, 0.2 * height, 0.28 * height, ACCENT, label=False)  # number plate
    else:
        sp.rect(-w, w, 0.12 * height, height)
        if label in (BUS, TRAIN):
            sp.rect(-w * 0.85, w * 0.85, 0.55 * height, 0.9 * height, GLASS, label=False)
        elif stripe:
            sp.rect(-w, w, 0.25 * height, 0.32 * height, ACCENT, label=False)
    for sx in (-1, 1):
        sp.rect(sx * w * 0.88 - 0.16, sx * w * 0.88 + 0.16, 0, 0.14 * height, TYRE)


def _side_body(sp, label, length, height, facing, stripe):
    half, f = length / 2, facing
    if label == CAR:
        sp.rect(-half, half, 0.15 * height, 0.58 * height)
        cabin = [(-0.3 * f * half, 0.58 * height), (0.45 * f * half, 0.58 * height), (0.2 * f * half, height),
                 (-0.6 * f * half, height), (-0.85 * f * half, 0.58 * height)]
        sp.poly(cabin)
        sp.poly([(-0.32 * f * half, 0.62 * height), (0.36 * f * half, 0.62 * height), (0.16 * f * half,
                 0.93 * height), (-0.55 * f * half, 0.93 * height), (-0.72 * f * half, 0.62 * height)],
                GLASS, label=False)
    elif label == TRUCK:
        cab = 0.26 * length
        sp.rect(f * (half - cab), f * half, 0.15 * height, 0.85 * height)  # cab
        sp.rect(f * (half - cab * 0.5), f * (half - 0.1), 0.5 * height, 0.8 * height, GLASS, label=False)
        sp.rect(-f * half, f * (half - cab - 0.2), 0.15 * height, height, ACCENT if stripe else 0)  # cargo box
    else:  # bus or train: a long box with a band of windows
        sp.rect(-half, half, 0.1 * height, height)
        sp.rect(-half * 0.95, half * 0.95, 0.5 * height, 0.85 * height, GLASS, label=False)
        if label == TRAIN:  # gaps between the carriages
            for k in (-1, 1):
                sp.rect(k * half / 3 - 0.15, k * half / 3 + 0.15, 0.1 * height, height, ACCENT, label=False)
    sp.light(f * (half - 0.2), 0.5 * height, 0.3, LAMP_WHITE)
    sp.rect(f * (half - 0.35), f * (half - 0.05), 0.45 * height, 0.55 * height, LAMP_WHITE, label=False)
    r = _WHEEL[label] * height / _SIZES[label][1]
    wheels = (-0.7, 0.7) if label != TRUCK else (-0.75, -0.45, 0.7)
    for wx in wheels:
        sp.ellipse(wx * half, r, r, r, TYRE)


def _person(cv, x, z, scale, rng):
    height = rng.uniform(1.55, 1.9) * scale
    stride = rng.uniform(0.0, 0.12)

    def draw():
        sp = Sprite(cv, PERSON, x, z)
        _body(sp, 0.0, height, stride)
    return draw


def _body(sp, base, height, stride):
    """A standing figure: legs (ACCENT, the trousers), torso and arms, head (SKIN); `base` lifts it."""
    hip, shoulder = base + 0.5 * height, base + 0.82 * height
    for k in (-1, 1):
        sp.poly([(k * 0.04, hip), (k * 0.17, hip), (k * (0.1 + stride) + 0.06, base),
                 (k * (0.1 + stride) - 0.06, base)], ACCENT)
    sp.rect(-0.25 * height / 1.75, 0.25 * height / 1.75, hip - 0.05, shoulder)
    for k in (-1, 1):
        sp.rect(k * 0.24 - 0.06, k * 0.24 + 0.06, hip - 0.02, shoulder - 0.02)
    sp.ellipse(0, shoulder + 0.12 * height / 1.75, 0.1, 0.125, SKIN)


def _two_wheeler(cv, bike, x, z, scale, rng, rider):
    """A bicycle or motorcycle seen from the side (crossing or parked) or from behind, optionally ridden."""
    from_behind = rider and rng.random() < 0.5
    facing = int(rng.choice([-1, 1]))
    height = rng.uniform(1.6, 1.85) * scale

    def draw():
        sp = Sprite(cv, bike, x, z)
        moto = bike == MOTORCYCLE
        if from_behind:
            sp.ellipse(0, 0.33, 0.09 if moto else 0.03, 0.33, TYRE)
            if moto:
                sp.rect(-0.3, 0.3, 0.35, 0.85)
                sp.rect(-0.1, 0.1, 0.6, 0.72, LAMP_RED, label=False)
                sp.light(0, 0.66, 0.2, LAMP_RED)
            sp.line((-0.3, 1.0), (0.3, 1.0), 0.04)  # handlebar
        else:
            r, hub = (0.3, 0.75) if moto else (0.34, 0.55)
            for k in (-1, 1):
                if moto:
                    sp.ellipse(k * hub, r, r, r, TYRE)
                else:
                    sp.ellipse(k * hub, r, r, r, TYRE, thickness=0.12)
            if moto:
                sp.poly([(-0.55, 0.35), (0.6, 0.35), (0.5, 0.85), (-0.45, 0.8)])
            else:
                seat, bar = (-0.1 * facing, 0.9), (0.4 * facing, 1.0)
                for p0, p1 in (((-hub, r), (hub, r)), ((0, r), seat), ((-hub * facing, r), seat),
                               ((hub * facing, r), bar)):
                    sp.line(p0, p1, 0.07)
        if rider:
            _body(sp_rider := Sprite(cv, RIDER, x, z), 0.45, height * 0.85, 0.0)
            sp_rider.ellipse(0, 0.45 + height * 0.85 * 0.95, 0.13, 0.1)  # helmet over the head
    return draw
