"""A custom dataset's label map file: its classes (names, optional palette) and how its raw label values, ids or
colours, become trainIds.

JSON or YAML (one structure)::

    {"classes": ["road", "building", "vegetation", "sky", "car"],
     "palette": [[128, 64, 128], [70, 70, 70], [107, 142, 35], [70, 130, 180], [0, 0, 142]],
     "ids": {"7": 0, "11": 1, "21": 2, "23": 3, "26": 4, "0": 255}}

``palette`` is optional (a colour-coded dataset's default: the first colour of each class); instead of ``ids``
(raw ids 0..65535) a colour-coded dataset gives ``colors``, keyed by '#rrggbb' or 'r,g,b'. A value is a trainId
(0..number of classes - 1), a class name, or 255 / null for a raw value that is void on purpose (not reported as
unmapped).

CSV: a header with ``id`` or ``color`` (the raw value), ``train_id`` and ``name``, optionally ``palette``; one
row per raw value; rows of train_id 255 are void (no name needed).
"""
import csv
import json
import os.path as osp
import re
from typing import NamedTuple, Optional

import yaml

from ...classes import IGNORE_INDEX
from ...errors import UserError

_HEX = re.compile(r'#?([0-9a-fA-F]{6})$')
_TRIPLE = re.compile(r'\s*(\d+)\s*[, ]\s*(\d+)\s*[, ]\s*(\d+)\s*$')


class LabelMap(NamedTuple):
    """A parsed label map file.

    Args:
        path (str): The file.
        classes (tuple[str]): Class names in trainId order.
        palette (tuple[tuple[int, int, int]] | None): RGB colour of each class, when the file gives one.
        kind (str): 'ids' or 'colors', what the raw labels hold.
        mapping (dict[int, int]): Raw value -> trainId or 255; colours packed as R * 65536 + G * 256 + B.
    """

    path: str
    classes: tuple
    palette: Optional[tuple]
    kind: str
    mapping: dict

    @property
    def metainfo(self):
        """mmseg dataset metainfo: classes, and palette when given (else mmseg chooses one)."""
        info = dict(classes=self.classes)
        if self.palette:
            info['palette'] = [list(color) for color in self.palette]
        return info


def pack_color(rgb):
    """(r, g, b) -> R * 65536 + G * 256 + B, the value :func:`label_io.read_packed_colors` gives a pixel."""
    r, g, b = rgb
    return (r << 16) | (g << 8) | b


def show_color(packed):
    """A packed colour as '#rrggbb', for messages."""
    return f'#{packed:06x}'


def parse_color(value, where):
    """'#rrggbb', 'r,g,b', 'r g b' or [r, g, b] -> (r, g, b); `where` names the entry for the message."""
    rgb = value
    if isinstance(value, str):
        match = _HEX.match(value.strip()) or _TRIPLE.match(value)
        if match and len(match.groups()) == 1:
            rgb = [int(match.group(1)[i:i + 2], 16) for i in (0, 2, 4)]
        elif match:
            rgb = [int(v) for v in match.groups()]
    if (isinstance(rgb, (list, tuple)) and len(rgb) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rgb)):
        return tuple(rgb)
    raise UserError(f"{where}: {value!r} is no colour; expected '#rrggbb', 'r,g,b' or [r, g, b] with 0..255")


def _parse_id(value, where):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 16:
        return value
    raise UserError(f'{where}: raw id {value!r} is not an integer in 0..65535')


def _train_id(value, classes, where):
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == IGNORE_INDEX):
        return IGNORE_INDEX
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(classes):
        return value
    raise UserError(f'{where}: {value!r} is no trainId; expected 0..{len(classes) - 1}, a class name, or '
                    f'{IGNORE_INDEX} / null for void')


def _from_dict(obj, path):
    if not isinstance(obj, dict):
        raise UserError(f"label map '{path}': expected a mapping with 'classes' and 'ids' or 'colors', got "
                        f'{type(obj).__name__}')
    classes = obj.get('classes')
    if (not isinstance(classes, list) or not classes or len(classes) > IGNORE_INDEX
            or not all(isinstance(c, str) and c for c in classes)):
        raise UserError(f"label map '{path}': 'classes' must be a list of 1..{IGNORE_INDEX} class names (trainIds "
                        f'are 8-bit, {IGNORE_INDEX} is void)')
    if len(set(classes)) != len(classes):
        raise UserError(f"label map '{path}': class names repeat in 'classes': {classes}")
    kinds = [k for k in ('ids', 'colors') if k in obj]
    unknown = sorted(set(obj) - {'classes', 'palette', 'ids', 'colors'})
    if len(kinds) != 1 or not isinstance(obj[kinds[0]], dict) or not obj[kinds[0]] or unknown:
        extra = f"; unknown key(s) {', '.join(map(str, unknown))}" if unknown else ''
        raise UserError(f"label map '{path}': expected exactly one non-empty mapping 'ids' (raw id -> trainId) or "
                        f"'colors' (colour -> trainId){extra}")
    kind = kinds[0]
    palette = obj.get('palette')
    if palette is not None:
        if not isinstance(palette, list) or len(palette) != len(classes):
            raise UserError(f"label map '{path}': 'palette' must list one colour per class ({len(classes)})")
        palette = tuple(parse_color(c, f"label map '{path}', palette[{i}]") for i, c in enumerate(palette))
    mapping = {}
    for raw, value in obj[kind].items():
        where = f"label map '{path}', {kind}[{raw!r}]"
        key = pack_color(parse_color(raw, where)) if kind == 'colors' else _parse_id(raw, where)
        if key in mapping:
            raise UserError(f'{where}: this raw value is mapped twice')
        mapping[key] = _train_id(value, classes, where)
    if palette is None and kind == 'colors':  # a colour-coded dataset's own colours, when each class has one
        first = {}
        for packed, train_id in mapping.items():
            first.setdefault(train_id, ((packed >> 16) & 255, (packed >> 8) & 255, packed & 255))
        if all(i in first for i in range(len(classes))):
            palette = tuple(first[i] for i in range(len(classes)))
    return LabelMap(path, tuple(classes), palette, kind, mapping)


def _from_csv(path, f):
    rows = list(csv.DictReader(f))
    header = set(rows[0]) if rows else set()
    kind = 'ids' if 'id' in header else 'colors' if 'color' in header else None
    if kind is None or not {'train_id', 'name'} <= header:
        raise UserError(f"label map '{path}': expected a CSV header with 'id' or 'color', 'train_id' and 'name' "
                        f"(optionally 'palette') and one row per raw value")
    names, colors, raw = {}, {}, {}
    for line, row in enumerate(rows, start=2):
        where = f"label map '{path}', line {line}"
        train_id = _parse_id(row['train_id'], where)
        value = row['id' if kind == 'ids' else 'color']
        if value in raw:
            raise UserError(f'{where}: the raw value {value!r} is listed twice')
        raw[value] = train_id
        if train_id == IGNORE_INDEX:
            continue
        if names.setdefault(train_id, row['name']) != row['name']:
            raise UserError(f"{where}: train_id {train_id} is named '{row['name']}', earlier '{names[train_id]}'")
        if row.get('palette'):
            colors.setdefault(train_id, row['palette'])
    if sorted(names) != list(range(len(names))):
        raise UserError(f"label map '{path}': the train_id values {sorted(names)} must be 0..N-1 without gaps "
                        f'(or {IGNORE_INDEX} for void)')
    classes = [names[i] for i in range(len(names))]
    obj = {'classes': classes, kind: raw}
    if colors:
        obj['palette'] = [colors.get(i) for i in range(len(classes))]
    return _from_dict(obj, path)


def read_label_map(path):
    """Read and check a label map file (format in the module docstring).

    Args:
        path (str): '.json', '.yaml' / '.yml' or '.csv' file.

    Returns:
        LabelMap: The classes and the raw value -> trainId mapping.

    Raises:
        UserError: the file is missing, unreadable or not in the format; the message names the entry.
    """
    if not osp.isfile(path):
        raise UserError(f"label map '{path}' does not exist; expected a JSON, YAML or CSV file")
    ext = osp.splitext(path)[1].lower()
    if ext not in ('.json', '.yaml', '.yml', '.csv'):
        raise UserError(f"label map '{path}': unknown file type '{ext}'; expected .json, .yaml, .yml or .csv")
    try:
        with open(path, encoding='utf-8', newline='') as f:
            if ext == '.csv':
                return _from_csv(path, f)
            return _from_dict(json.load(f) if ext == '.json' else yaml.safe_load(f), path)
    except (ValueError, yaml.YAMLError, csv.Error) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = ' '.join(str(err).split())
        raise UserError(f"label map '{path}' could not be parsed ({reason})") from None
