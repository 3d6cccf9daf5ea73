"""Converter for one's own dataset: raw label ids or colours -> trainIds through a label map file (see
`label_map_file`), `<stem>_labelTrainIds.png` beside each raw label, and the rare-class-sampling statistics."""
import os.path as osp

from ...errors import UserError
from .cli import require_dir
from .label_io import read_packed_colors, read_raw_ids
from .label_map_file import read_label_map, show_color
from .relabel import TRAIN_ID_SUFFIX, LabelFormat, convert_label_folder


def label_format(label_map):
    """The `LabelFormat` of a `LabelMap`: its reader, mapping and known values (every value it lists)."""
    if label_map.kind == 'ids':
        return LabelFormat(read_raw_ids, label_map.mapping, frozenset(label_map.mapping), int,
                           f"the ids of the label map '{label_map.path}'")
    return LabelFormat(read_packed_colors, label_map.mapping, frozenset(label_map.mapping), show_color,
                       f"the colours of the label map '{label_map.path}'")


def convert_generic(root, label_map, label_dir='labels', label_suffix='.png', nproc=1, split_file=None,
                    strict=False):
    """Write `<stem>_labelTrainIds.png` beside every raw label `<stem><label_suffix>` under root/label_dir, and
    the statistics of the training split at root.

    Args:
        root (str): Dataset root.
        label_map (str): Label map file (JSON, YAML or CSV).
        label_dir (str): Raw label folder relative to root, searched recursively. Defaults to 'labels'.
        label_suffix (str): Ending of the raw label files. Defaults to '.png'.
        nproc (int): Worker processes.
        split_file (str, optional): Training stems, one per line, relative to root; default: all labels.
        strict (bool): Stop at a label value the map does not list instead of reporting it.

    Returns:
        list[str]: Statistics files written at root.
    """
    if label_suffix.endswith(TRAIN_ID_SUFFIX) or not label_suffix:
        raise UserError(f"--label-suffix '{label_suffix}' would select the converter's own outputs; give the "
                        "ending of the raw labels, e.g. '.png' or '_mask.png'")
    labelled = read_label_map(label_map)
    require_dir(root, 'dataset root', f'a folder with {label_dir}/')
    require_dir(osp.join(root, label_dir), 'label folder', f'raw labels {label_dir}/**/*{label_suffix}')
    kind = 'ids' if labelled.kind == 'ids' else 'colours'
    print(f"label map '{label_map}': {len(labelled.classes)} classes, {len(labelled.mapping)} raw {kind}")
    return convert_label_folder(root, label_dir, label_format(labelled), nproc, split_file, strict, label_suffix)
