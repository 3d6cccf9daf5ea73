"""Mapillary Vistas labels -> the 19 Cityscapes trainIds by name, with openseg's rules (as DDB converts Mapillary):
the config's label list, the rule for one label name, and the table of the whole mapping, written and printed
so that users can check it."""
import json
import os.path as osp

from ...classes import CLASSES, IGNORE_INDEX
from ...errors import UserError
from .atomic import write_json_atomic

CONFIG_NAME = 'config_v1.2.json'

# The rules of openseg's mapillary2cityscape.py, tried in this order on the label's "readable" name in lower case
# without spaces and hyphens: first the exact Cityscapes class name ('trafficlight', ...), then these substrings;
# a label no rule matches is ignored (255). So 'Traffic Sign Frame' is a sign and 'Street Light' a pole.
SUBSTRING_RULES = (
    (('trafficsign', 'front', 'back'), 'traffic sign'),
    (('onrail',), 'train'),
    (('cyclist', 'rider'), 'rider'),
    (('pole', 'streetlight'), 'pole'),
    (('curb', 'pedestrianarea'), 'sidewalk'),
    (('crosswalkplain', 'parking', 'bikelane', 'servicelane', 'lanemarking'), 'road'),
)


def normalise_name(readable):
    """'Crosswalk - Plain' -> 'crosswalkplain': lower case, spaces and hyphens removed."""
    return readable.lower().replace(' ', '').replace('-', '')


_EXACT = {normalise_name(name): train_id for train_id, name in enumerate(CLASSES)}


def mapillary_rule(readable):
    """The trainId of a Mapillary label name and the rule that gave it.

    Args:
        readable (str): The label's "readable" name in the config, e.g. 'Traffic Sign (Back)'.

    Returns:
        tuple[int, str]: trainId (255 when no rule matches) and the rule, e.g. "contains 'trafficsign'".
    """
    name = normalise_name(readable)
    if name in _EXACT:
        return _EXACT[name], f"the class name '{CLASSES[_EXACT[name]]}'"
    for parts, cls in SUBSTRING_RULES:
        for part in parts:
            if part in name:
                return CLASSES.index(cls), f"contains '{part}'"
    return IGNORE_INDEX, 'no rule matches'


def _read_json(path):
    if not osp.isfile(path):
        raise UserError(f"Mapillary config '{path}' does not exist; expected the release's {CONFIG_NAME} with its "
                        "'labels' list (or give --config)")
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(f"Mapillary config '{path}' could not be parsed ({' '.join(str(err).split())})") from None


def read_config(path):
    """Read the label list of a Mapillary config.

    Args:
        path (str): config_v1.2.json.

    Returns:
        list[dict]: The "labels" entries in index order; each has a str "readable" and an [r, g, b] "color".
    """
    labels = _read_json(path)
    labels = labels.get('labels') if isinstance(labels, dict) else None
    if not isinstance(labels, list) or not labels or len(labels) > IGNORE_INDEX:
        raise UserError(f"Mapillary config '{path}': expected a 'labels' list of 1..{IGNORE_INDEX} entries "
                        '(one per label index)')
    for i, label in enumerate(labels):
        color = label.get('color') if isinstance(label, dict) else None
        if (not isinstance(label, dict) or not isinstance(label.get('readable'), str) or not isinstance(color, list)
                or len(color) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in color)):
            raise UserError(f"Mapillary config '{path}': labels[{i}] must have a 'readable' name and a 'color' "
                            f'[r, g, b], got {label!r}')
    return labels


def build_label_map(labels):
    """Apply `mapillary_rule` to every label of a config.

    Args:
        labels (list[dict]): `read_config` entries.

    Returns:
        list[dict]: Per label index: index, name, readable, train_id, class (None when ignored) and rule.
    """
    rows = []
    for index, label in enumerate(labels):
        train_id, rule = mapillary_rule(label['readable'])
        rows.append(dict(index=index, name=label.get('name'), readable=label['readable'], train_id=train_id,
                         **{'class': CLASSES[train_id] if train_id != IGNORE_INDEX else None}, rule=rule))
    return rows


def label_map_summary(rows):
    """Readable names per Cityscapes class in trainId order, then 'ignored'; classes without a label are absent."""
    groups = {}
    for row in rows:
        groups.setdefault(row['train_id'], []).append(row['readable'])
    return {(CLASSES[t] if t != IGNORE_INDEX else 'ignored'): groups[t] for t in sorted(groups)}


def write_label_map(path, config, rows):
    """Write the mapping as JSON (the rules, the labels of each class, every label's row) and print it.

    Args:
        path (str): The JSON file.
        config (str): The config the labels came from.
        rows (list[dict]): `build_label_map` of its labels.
    """
    write_json_atomic(path, dict(config=osp.basename(config), rules=(
        'readable name lower-cased without spaces and hyphens; the exact Cityscapes class name, else the first '
        'substring rule in this order, else ignored (255)'), substring_rules=[
        dict(contains=list(parts), **{'class': cls}) for parts, cls in SUBSTRING_RULES],
        classes=label_map_summary(rows), labels=rows))
    print('Mapillary labels -> Cityscapes classes:')
    for cls, names in label_map_summary(rows).items():
        print(f'  {cls} <- {", ".join(names)}')
    unused = [c for t, c in enumerate(CLASSES) if all(r['train_id'] != t for r in rows)]
    if unused:
        print(f'warning: no Mapillary label maps to {", ".join(unused)}')
    print(f'label map written to {path}')
