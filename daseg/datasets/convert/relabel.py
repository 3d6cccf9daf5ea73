"""Raw ids -> `*_labelTrainIds.png`: the conversion step shared by the GTA, SYNTHIA, Cityscapes and generic
converters."""
import os
import os.path as osp
from typing import Callable, Collection, NamedTuple, Optional

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


class LabelFormat(NamedTuple):
    """A raw label format: how its files are read and their values mapped to trainIds.

    Args:
        read (Callable): Module-level reader returning the raw values of a file (ids, or packed colours).
        mapping (dict[int, int]): Raw value -> trainId; other values become 255.
        known (Collection[int]): Every value of the format (mapped, or void on purpose); values outside it are
            reported (see `unmapped`).
        show (Callable): How a value is written in messages. Defaults to `int`.
        expected (str, optional): What the values should be, for --strict's message; default 'ids MIN..MAX'.
    """

    read: Callable
    mapping: dict
    known: Collection
    show: Callable = int
    expected: Optional[str] = None


class RelabelTask(NamedTuple):
    """One label file to convert.

    Args:
        src (str): Raw label file.
        dst (str): `*_labelTrainIds.png` file to write.
        file (str): `dst` relative to the dataset root, as recorded in the statistics.
        fmt (LabelFormat): How `src` is read and mapped.
        strict (bool): An unmapped value is an error instead.
    """

    src: str
    dst: str
    file: str
    fmt: LabelFormat
    strict: bool = False


def relabel(task):
    """Convert one label to an 8-bit trainId PNG, written atomically.

    Args:
        task (RelabelTask): What to convert.

    Returns:
        tuple[dict, Unmapped | None]: Its `class_stats_entry` and its unmapped values.
    """
    fmt = task.fmt
    ids = fmt.read(task.src)
    unmapped = find_unmapped(task.src, ids, fmt.known, task.strict, fmt.show, fmt.expected)
    train_ids = apply_id_map(ids, fmt.mapping)
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


def convert_label_folder(root, label_dir, fmt, nproc, split_file=None, strict=False, suffix='.png'):
    """Convert every raw label under root/label_dir in place and write the statistics of the training split.

    Raw labels are the files ending in `suffix` (searched recursively) and not in `_labelTrainIds.png`; each
    `<stem><suffix>` gets a `<stem>_labelTrainIds.png` beside it.

    Args:
        root (str): Dataset root, where the statistics go.
        label_dir (str): Label folder relative to root, e.g. 'labels'.
        fmt (LabelFormat): How the raw labels are read and mapped.
        nproc (int): Worker processes.
        split_file (str, optional): Stems of the training split, one per line, relative to root unless
            absolute; without it every label counts as training.
        strict (bool): Stop at a label value without a mapping instead of reporting it.
        suffix (str): Ending of the raw label files. Defaults to '.png'.

    Returns:
        list[str]: Statistics files written.
    """
    folder = osp.join(root, label_dir)
    stems = [s for s in list_stems(folder, suffix) if not (s + suffix).endswith(TRAIN_ID_SUFFIX)]
    if not stems:
        raise UserError(f"no raw labels '*{suffix}' under '{folder}'")
    train = set(stems) if split_file is None else _split_stems(osp.join(root, split_file), stems, folder, suffix)
    tasks = [RelabelTask(osp.join(folder, s + suffix), osp.join(folder, s + TRAIN_ID_SUFFIX),
                         f'{label_dir}/{s}{TRAIN_ID_SUFFIX}'.replace(os.sep, '/'), fmt, strict)
             for s in stems]
    with folder_lock(root, 'a dataset conversion'):
        entries = run_relabel(tasks, nproc)
        entries = [e for s, e in zip(stems, entries) if s in train]
        return write_class_stats(root, entries)


def _split_stems(path, stems, folder, suffix):
    split = read_split_file(path)
    missing = sorted(set(split) - set(stems))
    if missing:
        raise UserError(f"split file '{path}' lists '{missing[0]}' but '{folder}' has no raw label "
                        f"'{missing[0]}{suffix}' ({len(missing)} listed stems without a label)")
    return set(split)
