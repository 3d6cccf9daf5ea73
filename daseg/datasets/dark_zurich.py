"""mmseg's Dark Zurich dataset with the layout checks of `CheckedDatasetMixin`."""
from mmseg.datasets import DarkZurichDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin


@DATASETS.register_module()
class CheckedDarkZurichDataset(CheckedDatasetMixin, DarkZurichDataset):
    """`DarkZurichDataset` ('_rgb_anon.png' / '_gt_labelTrainIds.png') that checks its layout.

    The released layout fits as is: rgb_anon/<split>/<condition>/<seq>/*_rgb_anon.png, with labels only for
    val, gt/val/night/<seq>/*_gt_labelTrainIds.png.

    Args:
        **kwargs: `DarkZurichDataset` arguments; `data_prefix` names split and condition, e.g.
            dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'), or only img_path for the
            unlabelled training images.
    """

    LAYOUT = 'rgb_anon/<split>/<condition>/<seq>/*_rgb_anon.png and gt/val/night/<seq>/*_gt_labelTrainIds.png'
