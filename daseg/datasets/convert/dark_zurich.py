"""Dark Zurich check: rgb_anon/<split>/<condition>/<seq>/*_rgb_anon.png with gt/<split>/<condition>/<seq>/
*_gt_labelTrainIds.png (val/night only in the release); labels are trainIds, so nothing is rewritten."""
import os.path as osp

from ...errors import UserError
from .cli import require_dir
from .trainid_layout import Group, check_trainid_dataset, subdirs


def check_dark_zurich(root, nproc=1):
    """Check every split and condition, print their counts and write statistics of a labelled train split.

    Args:
        root (str): Dark Zurich root.
        nproc (int): Worker processes.

    Returns:
        list[str]: Statistics files written at root; none for the release, whose train split is unlabelled.
    """
    expected = 'rgb_anon/<split>/<condition>/<seq>/*_rgb_anon.png and gt/<split>/<condition>/<seq>/...'
    require_dir(root, 'Dark Zurich root', f'a folder with {expected}')
    img_root = osp.join(root, 'rgb_anon')
    require_dir(img_root, 'Dark Zurich image folder', expected)
    groups = [Group(f'{split}/{cond}', split, osp.join(img_root, split, cond), osp.join(root, 'gt', split, cond))
              for split in subdirs(img_root) for cond in subdirs(osp.join(img_root, split))]
    if not groups:
        raise UserError(f"no <split>/<condition> folders in '{img_root}'; expected {expected}")
    return check_trainid_dataset(root, groups, nproc)
