"""Raw ids -> `*_labelTrainIds.png`: the conversion step shared by the GTA, SYNTHIA and Cityscapes converters."""
import os
import os.path as osp
from typing import Callable, NamedTuple

from ...errors import UserError
from ...locks import folder_lock
from ..checked import list_stems
from .atomic import write_bytes_atomic
from .class_stats import class_stats_entry, write_class_stats
from .cli import read_split_file
from .label_io import apply_id_map, encode_png
from .parallel import run_parallel
from .unmapped import find_unmapped, report_unmapped

TRAIN_ID_SUFFIX = '_labelTrainIds.png'


class RelabelTask(NamedTuple):
    """One label file to convert.

    Args:
        src (str): Raw label file.
        dst (str): `*_labelTrainIds.png` file to write.
        file (str): `dst` relative to the dataset root, as recorded in the statistics.
        read (Callable): Module-level reader returning the raw ids of `src`.
        mapping (dict[int, int]): Raw id -> trainId; other ids become 255.
        known (tuple[int]): Every id of the raw format; values outside it are reported (see `unmapped`).
        strict (bool): An unmapped value is an error instead.
    """

    src: str
    dst: str
    file: str
    read: Callable
    mapping: dict
    known: tuple
    strict: bool = False


def relabel(task):
    """Convert one label to an 8-bit trainId PNG, written atomically.

    Args:
        task (RelabelTask): What to convert.

    Returns:
        tuple[dict, Unmapped | None]: Its `class_stats_entry` and its unmapped values.
    """
    ids = task.read(task.src)
    unmapped = find_unmapped(task.src, ids, task.known, task.strict)
    train_ids = apply_id_map(ids, task.mapping)
    write_bytes_atomic(task.dst, encode_png(train_ids))
    return class_stats_entry(task.file, train_ids), unmapped


def run_relabel(tasks, nproc):
    """Run `relabel` over all tasks with progress; report unmapped values and how many earlier outputs were
    replaced.

    Args:
        tasks (list[RelabelTask]): Files to convert.
        nproc (int): Worker processes.

    Returns:
        list[dict]: The `class_stats_entry` of each task, in task order.
    """
    replaced = sum(osp.exists(t.dst) for t in tasks)
    results = run_parallel(relabel, tasks, nproc)
    note = f' ({replaced} replaced earlier outputs)' if replaced else ''
    print(f'wrote {len(tasks)} *{TRAIN_ID_SUFFIX} labels{note}')
    report_unmapped([unmapped for _, unmapped in results])
    return [entry for entry, _ in results]


def convert_label_folder(root, label_dir, read, mapping, known, nproc, split_file=None, strict=False):
    """Convert every raw label under root/label_dir in place and write the statistics of the training split.

    Raw labels are the '.png' files (searched recursively) not ending in `_labelTrainIds.png`; each
    `<stem>.png` gets a `<stem>_labelTrainIds.png` beside it.

    Args:
        root (str): Dataset root, where the statistics go.
        label_dir (str): Label folder relative to root, e.g. 'labels'.
        read (Callable): Module-level reader of raw ids.
        mapping (dict[int, int]): Raw id -> trainId.
        known (tuple[int]): Every id of the raw format.
        nproc (int): Worker processes.
        split_file (str, optional): Stems of the training split, one per line, relative to root unless
            absolute; without it every label counts as training.
        strict (bool): Stop at a label value without a mapping instead of reporting it.

    Returns:
        list[str]: Statistics files written.
    """
    folder = osp.join(root, label_dir)
    stems = [s for s in list_stems(folder, '.png') if not (s + '.png').endswith(TRAIN_ID_SUFFIX)]
    if not stems:
        raise UserError(f"no raw labels '*.png' under '{folder}'")
    train = set(stems) if split_file is None else _split_stems(osp.join(root, split_file), stems, folder)
    tasks = [RelabelTask(osp.join(folder, s + '.png'), osp.join(folder, s + TRAIN_ID_SUFFIX),
                         f'{label_dir}/{s}{TRAIN_ID_SUFFIX}'.replace(os.sep, '/'), read, mapping, known, strict)
             for s in stems]
    with folder_lock(root, 'a dataset conversion'):
        entries = run_relabel(tasks, nproc)
        entries = [e for s, e in zip(stems, entries) if s in train]
        return write_class_stats(root, entries)


def _split_stems(path, stems, folder):
    split = read_split_file(path)
    missing = sorted(set(split) - set(stems))
    if missing:
        raise UserError(f"split file '{path}' lists '{missing[0]}' but '{folder}' has no raw label "
                        f"'{missing[0]}.png' ({len(missing)} listed stems without a label)")
    return set(split)
