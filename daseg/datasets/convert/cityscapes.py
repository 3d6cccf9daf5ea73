"""Cityscapes converter: gtFine/<split>/<city>/*_gtFine_labelIds.png -> *_gtFine_labelTrainIds.png.

The released labelIds PNGs are converted directly, so cityscapesscripts is not needed.
"""
import os
import os.path as osp

from ...errors import UserError
from ...locks import folder_lock
from ...label_maps import CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_LABEL_IDS
from ..checked import list_stems
from .class_stats import write_class_stats
from .cli import require_dir
from .label_io import read_id_png
from .relabel import LabelFormat, RelabelTask, run_relabel

LABEL_ID_SUFFIX = '_gtFine_labelIds.png'
TRAIN_ID_SUFFIX = '_gtFine_labelTrainIds.png'
# labelIds PNGs, also GTA5's (palette indices).
CITYSCAPES_FORMAT = LabelFormat(read_id_png, CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_LABEL_IDS)


def convert_cityscapes(root, nproc=1, strict=False):
    """Convert the labels of every split and write the statistics of gtFine/train.

    Args:
        root (str): Cityscapes root, with gtFine/<split>/<city>/.
        nproc (int): Worker processes.
        strict (bool): Stop at a label value that is no Cityscapes labelId instead of reporting it.

    Returns:
        list[str]: Statistics files written at root; none without a gtFine/train split.
    """
    expected = f'gtFine/<split>/<city>/*{LABEL_ID_SUFFIX}'
    require_dir(root, 'Cityscapes root', f'a folder with leftImg8bit/ and {expected}')
    gt_dir = osp.join(root, 'gtFine')
    require_dir(gt_dir, 'Cityscapes label folder', expected)
    tasks = []
    for split in sorted(os.listdir(gt_dir)):
        for stem in list_stems(osp.join(gt_dir, split), LABEL_ID_SUFFIX):
            src = osp.join(gt_dir, split, stem + LABEL_ID_SUFFIX)
            file = f'gtFine/{split}/{stem}{TRAIN_ID_SUFFIX}'.replace(os.sep, '/')
            tasks.append(RelabelTask(src, osp.join(root, file), file, CITYSCAPES_FORMAT, strict))
    if not tasks:
        raise UserError(f"no labels under '{gt_dir}'; expected {expected}")
    with folder_lock(root, 'a dataset conversion'):
        entries = [e for e in run_relabel(tasks, nproc) if e['file'].startswith('gtFine/train/')]
        if not entries:
            print(f"no labels in '{gt_dir}/train': statistics not written")
            return []
        return write_class_stats(root, entries)
