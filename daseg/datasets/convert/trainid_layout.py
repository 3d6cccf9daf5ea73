"""Checks for datasets released with trainId labels (ACDC, Dark Zurich): nothing is rewritten, the layout is
verified and counted, and the statistics of labelled training splits are written."""
import os
import os.path as osp
from typing import NamedTuple

import numpy as np

from ...classes import CLASSES, IGNORE_INDEX
from ...errors import UserError
from ...locks import folder_lock
from ..checked import list_stems
from .class_stats import class_stats_entry, write_class_stats
from .label_io import read_id_png
from .parallel import run_parallel

IMG_SUFFIX = '_rgb_anon.png'
LABEL_SUFFIX = '_gt_labelTrainIds.png'


class Group(NamedTuple):
    """One folder of images of one split and condition.

    Args:
        name (str): Shown in the report, e.g. 'fog/train'.
        split (str): 'train', 'val', ...; labelled 'train' groups go into the statistics.
        img_dir (str): Folder of `*_rgb_anon.png` images (searched recursively).
        label_dir (str): Matching folder of `*_gt_labelTrainIds.png` labels; it may not exist (no labels).
    """

    name: str
    split: str
    img_dir: str
    label_dir: str


def subdirs(folder):
    """Return the sorted names of the folders inside `folder`."""
    return sorted(d for d in os.listdir(folder) if osp.isdir(osp.join(folder, d)))


def trainid_entry(task):
    """Read one trainId label, check its values and count its classes.

    Args:
        task (tuple[str, str]): (label path, path relative to the dataset root).

    Returns:
        dict: Its `class_stats_entry`.
    """
    path, file = task
    train_ids = read_id_png(path)
    counts = np.bincount(train_ids.ravel(), minlength=256)
    bad = [v for v in np.flatnonzero(counts).tolist() if v >= len(CLASSES) and v != IGNORE_INDEX]
    if bad:
        raise UserError(f"label '{path}' holds ids {bad[:5]}; expected trainIds 0..{len(CLASSES) - 1} or "
                        f'{IGNORE_INDEX}')
    return class_stats_entry(file, train_ids)


def check_trainid_dataset(root, groups, nproc):
    """Check that every image of a labelled group has its label, print counts, write training statistics.

    Args:
        root (str): Dataset root; statistics are written here with paths relative to it.
        groups (list[Group]): The folders to check.
        nproc (int): Worker processes for reading the training labels.

    Returns:
        list[str]: Statistics files written; none without a labelled train split.
    """
    tasks = []
    for group in groups:
        stems = list_stems(group.img_dir, IMG_SUFFIX)
        labelled = osp.isdir(group.label_dir)
        if labelled:
            labels = [osp.join(group.label_dir, s + LABEL_SUFFIX) for s in stems]
            missing = [(s, p) for s, p in zip(stems, labels) if not osp.isfile(p)]
            if missing:
                stem, label = missing[0]
                raise UserError(f"{len(missing)} of {len(stems)} images in '{group.img_dir}' have no label; "
                                f"first: '{osp.join(group.img_dir, stem + IMG_SUFFIX)}', expected '{label}'")
            if group.split == 'train':
                tasks += [(p, osp.relpath(p, root).replace(osp.sep, '/')) for p in labels]
        print(f'{group.name}: {len(stems)} images, ' + (f'{len(stems)} labels' if labelled else 'no labels'))
    if not tasks:
        print('no labelled train split: statistics not written')
        return []
    with folder_lock(root, 'a dataset conversion'):
        entries = run_parallel(trainid_entry, tasks, nproc)
        return write_class_stats(root, entries)
