"""A pinhole street camera and a layered canvas that shapes are painted into, far to near."""
from collections import namedtuple
from dataclasses import dataclass

import cv2
import numpy as np

# Part codes: appearance details inside a labelled region that do not change its label.
GLASS, TYRE, LAMP_RED, LAMP_WHITE, MARKING, SKIN, ACCENT, WINDOW_LIT, LAMP_GREEN, LAMP_AMBER = range(1, 11)
LAMP_PARTS = (LAMP_RED, LAMP_WHITE, LAMP_GREEN, LAMP_AMBER)

Mask = namedtuple('Mask', 'box bits')  # box: (row slice, column slice); bits: bool array of that box

FAR = 1000.0  # depth (m) of the sky
_SHIFT = 4  # fractional bits of polygon coordinates: small shapes keep sub-pixel precision


@dataclass
class Camera:
    """Camera `height` metres above a flat ground, looking along a street that bends by `bend` (1/m).

    Street coordinates: X metres to the right of the street's centre line, Z metres ahead, Y metres up.
    """
    width: int
    height_px: int
    focal: float
    cx: float
    horizon: float
    height: float
    bend: float

    def project(self, x, z, y=0.0):
        """Image (column, row) of street point(s) (x, z, y); z must be positive."""
        x, z, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(z, float), np.asarray(y, float))
        col = self.cx + self.focal * (x + self.bend * z * z) / z
        row = self.horizon + self.focal * (self.height - y) / z
        return np.stack([col, row], axis=-1)

    def scale(self, z):
        """Pixels per metre at distance z."""
        return self.focal / z

    def z_near(self):
        """Distance of the ground seen on the bottom image row."""
        return self.focal * self.height / (self.height_px - self.horizon)


class Canvas:
    """Label, region, part and depth layers; every shape gets its own region id (for per-object colour)."""

    def __init__(self, cam):
        h, w = cam.height_px, cam.width
        self.cam = cam
        self.ids = np.zeros((h, w), np.uint8)
        self.region = np.zeros((h, w), np.int32)
        self.part = np.zeros((h, w), np.uint8)
        rows = np.arange(h, dtype=np.float32)[:, None] - cam.horizon
        ground = cam.focal * cam.height / np.maximum(rows, 1e-3)
        self.depth = np.broadcast_to(np.where(rows > 0, np.minimum(ground, FAR), FAR), (h, w)).astype(np.float32)
        self.region_label = [0]  # labelId of each region id
        self.lights = []  # (column, row, radius px, part code) of light sources, for night rendering

    def new_region(self, label):
        """Reserve a region id for a shape of class `label`."""
        self.region_label.append(label)
        return len(self.region_label) - 1

    def _mask(self, lo, hi, draw):
        """A `Mask` over the clipped box [lo, hi] (column, row); `draw(array, origin)` paints it."""
        h, w = self.ids.shape
        x0, y0 = max(int(np.floor(lo[0])) - 1, 0), max(int(np.floor(lo[1])) - 1, 0)
        x1, y1 = min(int(np.ceil(hi[0])) + 2, w), min(int(np.ceil(hi[1])) + 2, h)
        if x1 <= x0 or y1 <= y0:
            return Mask((slice(0, 0), slice(0, 0)), np.zeros((0, 0), bool))
        sub = np.zeros((y1 - y0, x1 - x0), np.uint8)
        draw(sub, np.array([x0, y0], float))
        return Mask((slice(y0, y1), slice(x0, x1)), sub.astype(bool))

    def fill(self, mask, label, region, depth=None, part=0):
        """Paint a `Mask`: label, region, part and depth (scalar or per pixel of the box; None on the ground)."""
        sl, m = mask
        self.ids[sl][m] = label
        self.region[sl][m] = region
        self.part[sl][m] = part
        if depth is not None:
            self.depth[sl][m] = depth[m] if np.ndim(depth) else depth

    def poly_mask(self, pts):
        """Mask of a polygon given as an (N, 2) float array of (column, row)."""
        pts = np.asarray(pts, float)
        return self._mask(pts.min(0), pts.max(0), lambda m, o: cv2.fillPoly(
            m, [_fixed(pts - o)], 1, cv2.LINE_8, _SHIFT))

    def ellipse_mask(self, center, axes, thickness=-1):
        """Mask of an axis-aligned ellipse (filled, or a ring of `thickness` px)."""
        center, axes = np.asarray(center, float), np.maximum(np.asarray(axes, float), 0.5)
        t = -1 if thickness < 0 else max(1, int(round(thickness)))
        pad = axes + max(t, 0)
        return self._mask(center - pad, center + pad, lambda m, o: cv2.ellipse(
            m, tuple(_fixed(center - o)), tuple(_fixed(axes)), 0, 0, 360, 1, t, cv2.LINE_8, _SHIFT))

    def line_mask(self, p0, p1, thickness):
        """Mask of a thick segment."""
        p = np.array([p0, p1], float)
        t = max(1, int(round(thickness)))
        return self._mask(p.min(0) - t, p.max(0) + t, lambda m, o: cv2.line(
            m, tuple(_fixed(p[0] - o)), tuple(_fixed(p[1] - o)), 1, t, cv2.LINE_8, _SHIFT))

    def set_part(self, mask, part, within=None):
        """Mark appearance detail `part` on a `Mask`, restricted to pixels of region `within` when given."""
        sl, m = mask
        if within is not None:
            m = m & (self.region[sl] == within)
        self.part[sl][m] = part


def _fixed(v):
    """Coordinates as the fixed-point integers cv2 draws with."""
    return np.round(np.asarray(v) * (1 << _SHIFT)).astype(np.int32)
