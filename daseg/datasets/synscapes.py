"""Synscapes (synthetic source): `img/rgb/<n>.png` with `img/class/<n>_labelTrainIds.png` from the converter."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin
from .metainfo import CITYSCAPES_METAINFO


@DATASETS.register_module()
class SynscapesDataset(CheckedDatasetMixin, BaseSegDataset):
    """Synscapes in the 19 Cityscapes classes (its `img/class` labels are Cityscapes labelIds).

    Args:
        img_suffix (str): Image file ending. Defaults to '.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_labelTrainIds.png'.
        data_prefix (dict): Image and label folders under data_root. Defaults to img/rgb/ and img/class/.
        **kwargs: `BaseSegDataset` arguments (data_root, ann_file with one stem such as '1' per line,
            pipeline, ...).
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = 'img/rgb/*.png and img/class/*_labelTrainIds.png (run tools/convert_datasets/synscapes.py)'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='img/rgb', seg_map_path='img/class'), **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)
