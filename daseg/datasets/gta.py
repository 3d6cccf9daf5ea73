"""GTA5 (synthetic source): `images/<n>.png` with `labels/<n>_labelTrainIds.png` from the converter."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin
from .metainfo import CITYSCAPES_METAINFO


@DATASETS.register_module()
class GTADataset(CheckedDatasetMixin, BaseSegDataset):
    """GTA5 in the 19 Cityscapes classes.

    Args:
        img_suffix (str): Image file ending. Defaults to '.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_labelTrainIds.png'.
        data_prefix (dict): Image and label folders under data_root. Defaults to images/ and labels/.
        **kwargs: `BaseSegDataset` arguments (data_root, ann_file, pipeline, ...).
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = 'images/*.png and labels/*_labelTrainIds.png (run tools/convert_datasets/gta.py)'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='images', seg_map_path='labels'), **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)
