"""Rendering a `Scene` into an RGB image in a domain's `Style`: materials, textures, light, weather, camera."""
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .canvas import ACCENT, GLASS, LAMP_AMBER, LAMP_GREEN, LAMP_PARTS, LAMP_RED, LAMP_WHITE, MARKING, SKIN, TYRE, \
    WINDOW_LIT
from .labels import PERSON, RIDER, SIDEWALK, SKY, TRUCK

_LAMPS = {LAMP_RED: (255, 45, 30), LAMP_WHITE: (255, 248, 225), LAMP_GREEN: (60, 255, 140), LAMP_AMBER: (255, 175, 35)}
_SECOND_COLOUR = (PERSON, RIDER, TRUCK)  # their ACCENT part is a second colour (trousers, cargo box)


@dataclass(frozen=True)
class Style:
    """How a domain looks. Colours are RGB 0..255; `colors` maps a labelId to the colours its shapes draw
    from (each shape picks one, then jitters it)."""
    colors: dict
    texture: dict  # labelId -> (fine, coarse) relative grain amplitude
    sky: tuple = ((95, 145, 215), (185, 210, 235))  # top, horizon
    clouds: float = 0.25
    glass: tuple = (45, 60, 75)
    tyre: tuple = (25, 25, 28)
    marking: tuple = (235, 235, 225)
    skin: tuple = ((230, 185, 150), (190, 140, 100), (120, 85, 60))
    accent_gain: float = 0.6  # ACCENT parts of other classes: the region colour darkened
    region_jitter: float = 0.1  # per-shape brightness jitter (log scale)
    tile: float = 0.6  # sidewalk tile size (m), 0 = no tiles
    saturation: float = 1.0
    contrast: float = 1.0
    brightness: float = 1.0
    tint: tuple = (1.0, 1.0, 1.0)
    fog: float = 0.0  # extinction (1/m)
    airlight: tuple = (200, 200, 200)
    night: float = 0.0  # 0 = day, 1 = full night (ambient light scaled to `ambient`)
    ambient: float = 0.15
    lamp_tint: tuple = (1.0, 1.0, 1.0)  # colour of street light at night
    night_sky: tuple = ((8, 10, 20), (40, 35, 45))
    blur: float = 0.0  # Gaussian sigma in pixels at 256 px width
    noise: float = 2.0  # sensor noise sigma (0..255 scale)
    jitter: dict = field(default_factory=lambda: {'brightness': 0.08, 'contrast': 0.06, 'tint': 0.03})
    # Per-image weather/time of day: (probability, overrides of the fields above); the rest stay as they are.
    conditions: tuple = ()


def render(scene, style, rng):
    """RGB uint8 image of `scene` in `style`; per-image randomness from `rng`."""
    if style.conditions:
        probs, overrides = zip(*style.conditions)
        style = replace(style, **overrides[rng.choice(len(probs), p=np.array(probs) / sum(probs))])
    h, w = scene.ids.shape
    base, second, skin = _region_colours(scene.region_label, style, rng)
    img = base[scene.region]
    _sky(img, scene, style, rng)
    _parts(img, scene, style, second, skin)
    img *= _grain(scene, style, rng)[..., None]
    emission = 0
    if style.night > 0:
        img, emission = _night(img, scene, style)
    # Fog (Koschmieder): light from depth d is attenuated by exp(-fog * d) and replaced by the airlight.
    t = np.exp(-style.fog * scene.depth)[..., None]
    img = img * t + np.asarray(style.airlight, np.float32) * (1 - t) + emission * t
    img = _grade(img, style, rng)
    if style.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), style.blur * w / 256)
    img += rng.normal(0, style.noise, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _pick(colours, n, rng):
    colours = np.asarray(colours, np.float32).reshape(-1, 3)
    return colours[rng.integers(0, len(colours), n)]


def _region_colours(region_label, style, rng):
    """Per-region base colour, second colour (ACCENT) and skin colour."""
    n = len(region_label)
    base = np.zeros((n, 3), np.float32)
    second = np.zeros((n, 3), np.float32)
    for label in np.unique(region_label):
        idx = np.flatnonzero(region_label == label)
        palette = style.colors.get(int(label), style.colors[0])
        base[idx] = _pick(palette, len(idx), rng)
        if label in _SECOND_COLOUR:
            second[idx] = _pick(palette, len(idx), rng) * 0.7
        else:
            second[idx] = base[idx] * style.accent_gain
    gain = np.exp(rng.normal(0, style.region_jitter, (n, 1))) * (1 + rng.normal(0, 0.03, (n, 3)))
    skin = _pick(style.skin, n, rng)
    return base * gain.astype(np.float32), second * gain.astype(np.float32), skin


def _sky(img, scene, style, rng):
    h, w = scene.ids.shape
    sky = scene.ids == SKY
    t = np.clip(np.arange(h, dtype=np.float32) / max(scene.cam.horizon, 1.0), 0, 1)[:, None, None]
    top, low = (np.asarray(c, np.float32) for c in style.sky)
    grad = np.broadcast_to(top * (1 - t) + low * t, (h, w, 3))
    cloud = np.clip(_noise((h, w), 24, rng) * 1.5 + rng.uniform(-1, 0.5), 0, 1)[..., None] * style.clouds
    img[sky] = (grad * (1 - cloud) + 240 * cloud)[sky]


def _parts(img, scene, style, second, skin):
    part, region = scene.part, scene.region
    h = img.shape[0]
    sheen = np.linspace(1.3, 0.8, h, dtype=np.float32)[:, None, None]  # sky reflected in the upper panes
    glass = (part == GLASS) | (part == WINDOW_LIT)
    img[glass] = (np.asarray(style.glass, np.float32) * np.broadcast_to(sheen, img.shape))[glass]
    img[part == TYRE] = style.tyre
    img[part == MARKING] = style.marking
    accent = part == ACCENT
    img[accent] = second[region[accent]]
    s = part == SKIN
    img[s] = skin[region[s]]
    for code in LAMP_PARTS:
        img[part == code] = np.asarray(_LAMPS[code], np.float32) * 0.85


def _noise(shape, cell, rng):
    """Smooth value noise in [0, 1] with features about `cell` pixels across."""
    h, w = shape
    small = rng.random((h // cell + 3, w // cell + 3)).astype(np.float32)
    big = cv2.resize(small, ((w // cell + 3) * cell, (h // cell + 3) * cell), interpolation=cv2.INTER_CUBIC)
    return big[cell:cell + h, cell:cell + w]


def _grain(scene, style, rng):
    """Multiplicative texture: per-class fine and coarse grain, plus sidewalk tiles in ground coordinates."""
    h, w = scene.ids.shape
    fine_lut, coarse_lut = np.zeros(256, np.float32), np.zeros(256, np.float32)
    for label, (fine, coarse) in style.texture.items():
        fine_lut[label], coarse_lut[label] = fine, coarse
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 0.7 * w / 256)
    coarse = _noise((h, w), max(2, w // 24), rng) * 2 - 1
    gain = 1 + fine * fine_lut[scene.ids] * 2 + coarse * coarse_lut[scene.ids]
    if style.tile > 0:
        cam = scene.cam
        rows = np.arange(h, dtype=np.float32)[:, None] + 0.5 - cam.horizon
        z = cam.focal * cam.height / np.maximum(rows, 0.5)
        x = (np.arange(w, dtype=np.float32)[None, :] + 0.5 - cam.cx) * z / cam.focal - cam.bend * z * z
        joints = ((x / style.tile) % 1 < 0.08) | ((z / style.tile) % 1 < 0.08)
        gain[joints & (scene.ids == SIDEWALK) & (rows > 0)] *= 0.82
    return gain


def _night(img, scene, style):
    """Dim everything to the ambient level; lamps, lit windows and their glow become emission."""
    h, w = scene.ids.shape
    k = style.night
    sky = scene.ids == SKY
    t = np.clip(np.arange(h, dtype=np.float32) / max(scene.cam.horizon, 1.0), 0, 1)[:, None, None]
    top, low = (np.asarray(c, np.float32) for c in style.night_sky)
    night_sky = np.broadcast_to(top * (1 - t) + low * t, img.shape)
    dark = img * (1 - k + k * style.ambient)
    dark[sky] = (img * (1 - k) + night_sky * k)[sky]
    tint = np.asarray(style.lamp_tint, np.float32)
    emission = np.zeros_like(img)
    lit = scene.part == WINDOW_LIT
    emission[lit] = np.asarray((255, 210, 140), np.float32) * k * 0.8
    for code in LAMP_PARTS:
        emission[scene.part == code] = np.asarray(_LAMPS[code], np.float32) * k
    glow = np.zeros_like(img)
    for col, row, radius, code in scene.lights:
        colour = np.asarray(_LAMPS[code], np.float32) * (tint if code == LAMP_WHITE else 1)
        cv2.circle(glow, (int(col), int(row)), max(1, int(radius * 1.3)), colour.tolist(), -1)
    sigma = 0.02 * w
    glow = cv2.GaussianBlur(glow, (0, 0), sigma) * k
    # Light falls on surfaces too: the glow lights up the dimmed scene in the lamp's colour.
    dark = dark + img * np.clip(glow / 255, 0, 1) * 1.5
    return dark, emission + glow * 0.5


def _grade(img, style, rng):
    """Camera/colour grading: tint, saturation, contrast and brightness, jittered per image."""
    j = style.jitter
    tint = np.asarray(style.tint, np.float32) * (1 + rng.normal(0, j['tint'], 3)).astype(np.float32)
    img = img * tint
    grey = img.mean(-1, keepdims=True)
    img = grey + (img - grey) * style.saturation
    contrast = style.contrast * (1 + rng.normal(0, j['contrast']))
    brightness = style.brightness * (1 + rng.normal(0, j['brightness']))
    mean = img.mean()
    img = (mean + (img - mean) * contrast) * brightness
    return img.astype(np.float32)
