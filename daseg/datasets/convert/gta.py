"""GTA5 converter: labels/<n>.png (palette PNGs whose indices are Cityscapes labelIds) -> trainIds."""
import os.path as osp

from .cityscapes import CITYSCAPES_FORMAT
from .cli import require_dir
from .relabel import convert_label_folder


def convert_gta(root, nproc=1, split_file=None, strict=False):
    """Write labels/<n>_labelTrainIds.png for every labels/<n>.png and the statistics of the training split.

    Args:
        root (str): GTA root, with labels/ (images/ is not read).
        nproc (int): Worker processes.
        split_file (str, optional): Training stems, one per line, relative to root (e.g. 'train.txt');
            without it all labels are training labels, as in DAFormer.
        strict (bool): Stop at a label value that is no Cityscapes labelId instead of reporting it.

    Returns:
        list[str]: Statistics files written at root.
    """
    require_dir(root, 'GTA root', 'a folder with images/ and labels/')
    require_dir(osp.join(root, 'labels'), 'GTA label folder', 'labels/<n>.png, palette PNGs of Cityscapes labelIds')
    return convert_label_folder(root, 'labels', CITYSCAPES_FORMAT, nproc, split_file, strict)
