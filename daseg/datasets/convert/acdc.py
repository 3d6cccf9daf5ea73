"""ACDC check: rgb_anon/<condition>/<split>/<seq>/*_rgb_anon.png with gt/<condition>/<split>/<seq>/
*_gt_labelTrainIds.png; labels are released as trainIds, so nothing is rewritten."""
import os.path as osp

from ...errors import UserError
from .cli import require_dir
from .trainid_layout import Group, check_trainid_dataset, subdirs


def check_acdc(root, nproc=1):
    """Check every condition and split, print their counts and write the statistics of the train splits.

    Args:
        root (str): ACDC root.
        nproc (int): Worker processes.

    Returns:
        list[str]: Statistics files written at root.
    """
    expected = 'rgb_anon/<condition>/<split>/<seq>/*_rgb_anon.png and gt/<condition>/<split>/<seq>/...'
    require_dir(root, 'ACDC root', f'a folder with {expected}')
    img_root = osp.join(root, 'rgb_anon')
    require_dir(img_root, 'ACDC image folder', expected)
    groups = [Group(f'{cond}/{split}', split, osp.join(img_root, cond, split), osp.join(root, 'gt', cond, split))
              for cond in subdirs(img_root) for split in subdirs(osp.join(img_root, cond))]
    if not groups:
        raise UserError(f"no <condition>/<split> folders in '{img_root}'; expected {expected}")
    return check_trainid_dataset(root, groups, nproc)
