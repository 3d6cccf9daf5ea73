"""Synscapes converter: img/class/<n>.png (8-bit, Cityscapes labelIds) -> trainIds."""
import os.path as osp

from .cityscapes import CITYSCAPES_FORMAT
from .cli import require_dir
from .relabel import convert_label_folder


def convert_synscapes(root, nproc=1, split_file=None, strict=False):
    """Write img/class/<n>_labelTrainIds.png for every img/class/<n>.png and the statistics of the training split.

    The earlier outputs (`*_labelTrainIds.png`) in img/class are never read as raw labels, so a rerun
    replaces them. img/rgb/ and meta/ are not read.

    Args:
        root (str): Synscapes root, with img/class/.
        nproc (int): Worker processes.
        split_file (str, optional): Training stems (e.g. '1', '2', ...), one per line, relative to root; without
            it all labels are training labels.
        strict (bool): Stop at a label value that is no Cityscapes labelId instead of reporting it.

    Returns:
        list[str]: Statistics files written at root.
    """
    require_dir(root, 'Synscapes root', 'a folder with img/rgb/ and img/class/')
    require_dir(osp.join(root, 'img', 'class'), 'Synscapes label folder',
                'img/class/<n>.png, 8-bit PNGs of Cityscapes labelIds')
    return convert_label_folder(root, 'img/class', CITYSCAPES_FORMAT, nproc, split_file, strict)
