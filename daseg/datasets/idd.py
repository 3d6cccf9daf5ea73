"""India Driving Dataset in the Cityscapes-like layout written by tools/convert_datasets/idd.py."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin
from .metainfo import CITYSCAPES_METAINFO


@DATASETS.register_module()
class IDDDataset(CheckedDatasetMixin, BaseSegDataset):
    """IDD in the 19 Cityscapes classes (IDD's own `labelcsTrainIds`).

    Args:
        img_suffix (str): Image file ending. Defaults to '_leftImg8bit.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_gtFine_labelTrainIds.png'.
        **kwargs: `BaseSegDataset` arguments; `data_prefix` names the split, e.g.
            dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val').
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = ('leftImg8bit/<split>/<seq>/*_leftImg8bit.png and gtFine/<split>/<seq>/*_gtFine_labelTrainIds.png '
              '(run tools/convert_datasets/idd.py)')

    def __init__(self, img_suffix='_leftImg8bit.png', seg_map_suffix='_gtFine_labelTrainIds.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
