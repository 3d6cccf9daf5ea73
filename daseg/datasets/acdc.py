"""ACDC (adverse conditions) read from its released layout, one or several conditions at once."""
import os.path as osp

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..errors import UserError
from .checked import CheckedDatasetMixin
from .metainfo import CITYSCAPES_METAINFO

CONDITIONS = ('fog', 'night', 'rain', 'snow')


@DATASETS.register_module()
class ACDCDataset(CheckedDatasetMixin, BaseSegDataset):
    """ACDC in the 19 Cityscapes classes: rgb_anon/<condition>/<split>/<seq>/*_rgb_anon.png with
    gt/<condition>/<split>/<seq>/*_gt_labelTrainIds.png, under data_root (the ACDC root).

    Args:
        split (str): 'train', 'val', 'test' (no public labels: give data_prefix without seg_map_path), or
            a '*_ref' split. Defaults to 'val'.
        conditions (Sequence[str]): Any of 'fog', 'night', 'rain', 'snow'; samples are listed condition by
            condition in this order. Defaults to all four.
        img_suffix (str): Image file ending. Defaults to '_rgb_anon.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_gt_labelTrainIds.png'.
        data_prefix (dict): Image and label roots above the condition folders. Defaults to rgb_anon/ and gt/.
        **kwargs: `BaseSegDataset` arguments. With an `ann_file`, its lines are
            `<condition>/<split>/<seq>/<frame>` stems under the data_prefix roots, and they alone select the
            samples (`split` and `conditions` are then unused).
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = 'rgb_anon/<condition>/<split>/<seq>/*_rgb_anon.png and gt/<condition>/<split>/<seq>/*_gt_labelTrainIds.png'

    def __init__(self, split='val', conditions=CONDITIONS, img_suffix='_rgb_anon.png',
                 seg_map_suffix='_gt_labelTrainIds.png', data_prefix=dict(img_path='rgb_anon', seg_map_path='gt'),
                 **kwargs):
        conditions = (conditions,) if isinstance(conditions, str) else tuple(conditions)
        unknown = [c for c in conditions if c not in CONDITIONS]
        if unknown or not conditions:
            raise UserError(f'ACDCDataset: conditions {list(conditions)} must be a non-empty subset of '
                            f'{list(CONDITIONS)}')
        self.split = split
        self.conditions = conditions
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)

    def folder_pairs(self):
        """Return one (image folder, label folder or None) pair per condition, or the roots for an ann_file."""
        if self.ann_file:
            return super().folder_pairs()
        img_root, ann_root = super().folder_pairs()[0]
        return [(osp.join(img_root, c, self.split), None if ann_root is None else osp.join(ann_root, c, self.split))
                for c in self.conditions]
