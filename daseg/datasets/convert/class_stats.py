"""Rare-class-sampling statistics of a training split, in the format of DAFormer's converters.

Three JSON files are written at the dataset root. `file` is a label path relative to the dataset root, with
'/' separators, so that a dataset's `seg_map_path` is `osp.join(data_root, file)`; class keys are trainIds
written as strings; counts are numbers of pixels; only classes present (count > 0) appear and ignored
pixels (255) are not counted. Files are sorted by path, classes by trainId.

- `sample_class_stats.json`: one entry per label file,
  `[{"file": "labels/00001_labelTrainIds.png", "0": 41, "13": 7}, ...]`.
- `sample_class_stats_dict.json`: the same keyed by file,
  `{"labels/00001_labelTrainIds.png": {"0": 41, "13": 7}, ...}`.
- `samples_with_class.json`: for each class, every file containing it with its count,
  `{"0": [["labels/00001_labelTrainIds.png", 41], ...], "13": [...]}`. No minimum is applied here; the
  sampler filters by its own `min_pixels`.
"""
import os.path as osp

import numpy as np

from ...classes import IGNORE_INDEX
from .atomic import write_json_atomic

STATS_FILES = ('sample_class_stats.json', 'sample_class_stats_dict.json', 'samples_with_class.json')


def class_stats_entry(file, train_ids):
    """Count the pixels of each trainId in one label, for any number of classes (ignored pixels, 255, are not
    counted).

    Args:
        file (str): Label path relative to the dataset root.
        train_ids (np.ndarray): uint8 trainIds of that label.

    Returns:
        dict: `{"file": file, "<trainId>": n_pixels, ...}` for the trainIds present.
    """
    counts = np.bincount(train_ids.ravel(), minlength=256)[:IGNORE_INDEX]
    return {'file': file, **{str(c): int(n) for c, n in enumerate(counts) if n > 0}}


def write_class_stats(root, entries):
    """Write the three statistics files at `root` (see the module docstring) and say so on stdout.

    Args:
        root (str): Dataset root.
        entries (list[dict]): `class_stats_entry` results, one per label of the training split.

    Returns:
        list[str]: Paths written.
    """
    entries = sorted(entries, key=lambda e: e['file'])
    per_file = {e['file']: {c: n for c, n in e.items() if c != 'file'} for e in entries}
    with_class = {}
    for file, counts in per_file.items():
        for c, n in counts.items():
            with_class.setdefault(c, []).append([file, n])
    with_class = {c: with_class[c] for c in sorted(with_class, key=int)}
    paths = [osp.join(root, name) for name in STATS_FILES]
    for path, obj in zip(paths, (entries, per_file, with_class)):
        write_json_atomic(path, obj)
    print(f'statistics of {len(entries)} training labels written to {", ".join(paths)}')
    return paths
