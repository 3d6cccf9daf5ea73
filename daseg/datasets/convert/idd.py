"""IDD converter: IDD as prepared by its own toolkit -> the Cityscapes-like layout that `IDDDataset` reads.

Input, under RAW_ROOT: leftImg8bit/<split>/<seq>/<frame>_leftImg8bit.{jpg,png} and, for labelled splits,
gtFine/<split>/<seq>/<frame>_gtFine_labelcsTrainIds.png (IDD's `createLabels --id-type csTrainId`; values are
already Cityscapes trainIds). Output, under OUT_ROOT: leftImg8bit/<split>/<seq>/<frame>_leftImg8bit.png and
gtFine/<split>/<seq>/<frame>_gtFine_labelTrainIds.png.
"""
import os
import os.path as osp
from typing import NamedTuple, Optional

import cv2

from ...classes import CLASSES, IGNORE_INDEX
from ...errors import UserError
from ...locks import folder_lock
from ..checked import list_stems
from .atomic import copy_file_atomic, write_bytes_atomic
from .class_stats import class_stats_entry, write_class_stats
from .cli import require_dir
from .label_io import apply_id_map, encode_png, read_color_image, read_id_png
from .parallel import run_parallel
from .unmapped import find_unmapped, report_unmapped

RAW_IMG_SUFFIXES = ('_leftImg8bit.jpg', '_leftImg8bit.png')
RAW_LABEL_SUFFIX = '_gtFine_labelcsTrainIds.png'
IMG_SUFFIX = '_leftImg8bit.png'
LABEL_SUFFIX = '_gtFine_labelTrainIds.png'
# csTrainIds 0..18 stay; anything else (IDD writes 255 for its own classes outside Cityscapes) is ignored.
KEEP_TRAIN_IDS = {i: i for i in range(len(CLASSES))}
KNOWN_IDS = (*KEEP_TRAIN_IDS, IGNORE_INDEX)


class IDDTask(NamedTuple):
    """One IDD frame to convert.

    Args:
        src_img (str): Raw image (JPEG or PNG).
        dst_img (str): PNG image to write.
        src_label (str, optional): Raw `labelcsTrainIds` label; None for an unlabelled split.
        dst_label (str, optional): Label to write; None for an unlabelled split.
        file (str, optional): `dst_label` relative to OUT_ROOT, for the statistics.
        size (tuple[int, int], optional): Output (width, height); None keeps the size.
        strict (bool): A label value that is no csTrainId is an error instead of being reported.
    """

    src_img: str
    dst_img: str
    src_label: Optional[str]
    dst_label: Optional[str]
    file: Optional[str]
    size: Optional[tuple]
    strict: bool = False


def convert_frame(task):
    """Write one frame's PNG image and, when labelled, its trainId label, atomically.

    Args:
        task (IDDTask): The frame.

    Returns:
        tuple[dict | None, Unmapped | None]: The label's `class_stats_entry` and unmapped values; None, None
        without a label.
    """
    if task.size is None and task.src_img.endswith('.png'):
        copy_file_atomic(task.src_img, task.dst_img)
    else:
        img = read_color_image(task.src_img)
        if task.size is not None:
            img = cv2.resize(img, task.size, interpolation=cv2.INTER_LINEAR)
        write_bytes_atomic(task.dst_img, encode_png(img))
    if task.src_label is None:
        return None, None
    ids = read_id_png(task.src_label)
    unmapped = find_unmapped(task.src_label, ids, KNOWN_IDS, task.strict)
    train_ids = apply_id_map(ids, KEEP_TRAIN_IDS)
    if task.size is not None:
        train_ids = cv2.resize(train_ids, task.size, interpolation=cv2.INTER_NEAREST)
    write_bytes_atomic(task.dst_label, encode_png(train_ids))
    return class_stats_entry(task.file, train_ids), unmapped


def _split_tasks(raw_root, out_root, split, size, strict):
    img_dir = osp.join(raw_root, 'leftImg8bit', split)
    label_dir = osp.join(raw_root, 'gtFine', split)
    labelled = osp.isdir(label_dir)
    images = {}
    for suffix in RAW_IMG_SUFFIXES:
        for stem in list_stems(img_dir, suffix):
            if stem in images:
                raise UserError(f"'{osp.join(img_dir, stem)}' exists both as .jpg and .png; keep one")
            images[stem] = suffix
    tasks = []
    for stem, suffix in sorted(images.items()):
        src_img = osp.join(img_dir, stem + suffix)
        dst_img = osp.join(out_root, 'leftImg8bit', split, stem + IMG_SUFFIX)
        if not labelled:
            tasks.append(IDDTask(src_img, dst_img, None, None, None, size, strict))
            continue
        src_label = osp.join(label_dir, stem + RAW_LABEL_SUFFIX)
        if not osp.isfile(src_label):
            raise UserError(f"label missing for image '{src_img}': expected '{src_label}' (run IDD's "
                            'createLabels with --id-type csTrainId)')
        file = f'gtFine/{split}/{stem}{LABEL_SUFFIX}'.replace(os.sep, '/')
        tasks.append(IDDTask(src_img, dst_img, src_label, osp.join(out_root, file), file, size, strict))
    return tasks


def convert_idd(raw_root, out_root, nproc=1, size=None, strict=False):
    """Convert every split of IDD and write the statistics of the train split at out_root.

    Args:
        raw_root (str): IDD root after IDD's toolkit.
        out_root (str): Output root; must differ from raw_root.
        nproc (int): Worker processes.
        size (tuple[int, int], optional): Resize to (width, height), bilinear for images and nearest for
            labels, e.g. (1920, 1080) as in the model-merging paper; None keeps each frame's size.
        strict (bool): Stop at a label value that is no csTrainId instead of reporting it.

    Returns:
        list[str]: Statistics files written; none without a labelled train split.
    """
    expected = 'leftImg8bit/<split>/<seq>/*_leftImg8bit.{jpg,png} and gtFine/<split>/<seq>/*' + RAW_LABEL_SUFFIX
    require_dir(raw_root, 'IDD root', f'a folder with {expected}')
    img_root = osp.join(raw_root, 'leftImg8bit')
    require_dir(img_root, 'IDD image folder', expected)
    if osp.realpath(out_root) == osp.realpath(raw_root):
        raise UserError(f"output root '{out_root}' is the raw IDD root; give a separate folder")
    if size is not None and min(size) < 1:
        raise UserError(f'--resize needs a positive width and height, got {size[0]} {size[1]}')
    splits = sorted(s for s in os.listdir(img_root) if osp.isdir(osp.join(img_root, s)))
    tasks = {split: _split_tasks(raw_root, out_root, split, size, strict) for split in splits}
    all_tasks = [t for split in splits for t in tasks[split]]
    if not all_tasks:
        raise UserError(f"no images under '{img_root}'; expected {expected}")
    with folder_lock(out_root, 'a dataset conversion'):
        return _convert(out_root, splits, tasks, all_tasks, nproc)


def _convert(out_root, splits, tasks, all_tasks, nproc):
    """Run the frame tasks of every split (holding out_root), report, and write the training statistics."""
    for folder in {osp.dirname(p) for t in all_tasks for p in (t.dst_img, t.dst_label) if p is not None}:
        os.makedirs(folder, exist_ok=True)
    replaced = sum(osp.exists(t.dst_img) for t in all_tasks)
    results = run_parallel(convert_frame, all_tasks, nproc)
    report_unmapped([unmapped for _, unmapped in results])
    entries = [entry for entry, _ in results]
    if replaced:
        print(f'{replaced} frames replaced earlier outputs')
    for split in splits:
        n_labels = sum(t.src_label is not None for t in tasks[split])
        print(f'{split}: {len(tasks[split])} images, {n_labels} labels')
    train = [e for e in entries if e is not None and e['file'].startswith('gtFine/train/')]
    if not train:
        print('no labelled train split: statistics not written')
        return []
    return write_class_stats(out_root, train)
