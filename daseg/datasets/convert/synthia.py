"""SYNTHIA-RAND-CITYSCAPES converter: GT/LABELS/<n>.png (16-bit, class id in red) -> trainIds."""
import os.path as osp

from ...label_maps import SYNTHIA_ID_TO_TRAINID, SYNTHIA_LABEL_IDS
from .cli import require_dir
from .label_io import read_synthia_ids
from .relabel import LabelFormat, convert_label_folder


def convert_synthia(root, nproc=1, split_file=None, strict=False):
    """Write GT/LABELS/<n>_labelTrainIds.png for every GT/LABELS/<n>.png and the training statistics.

    All 19 classes are mapped as in DAFormer; terrain, truck and train are rare or absent in SYNTHIA.

    Args:
        root (str): SYNTHIA root, with GT/LABELS/ (RGB/ is not read).
        nproc (int): Worker processes.
        split_file (str, optional): Training stems, one per line, relative to root; default: all labels.
        strict (bool): Stop at a label value that is no SYNTHIA class id instead of reporting it.

    Returns:
        list[str]: Statistics files written at root.
    """
    require_dir(root, 'SYNTHIA root', 'a folder with RGB/ and GT/LABELS/')
    require_dir(osp.join(root, 'GT', 'LABELS'), 'SYNTHIA label folder', 'GT/LABELS/<n>.png, 16-bit label PNGs')
    fmt = LabelFormat(read_synthia_ids, SYNTHIA_ID_TO_TRAINID, SYNTHIA_LABEL_IDS)
    return convert_label_folder(root, 'GT/LABELS', fmt, nproc, split_file, strict)
