"""SYNTHIA-RAND-CITYSCAPES (synthetic source): `RGB/<n>.png` with `GT/LABELS/<n>_labelTrainIds.png`."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin
from .metainfo import CITYSCAPES_METAINFO


@DATASETS.register_module()
class SynthiaDataset(CheckedDatasetMixin, BaseSegDataset):
    """SYNTHIA in the 19 Cityscapes classes (terrain, truck and train are rare or absent; see `SYNTHIA_16`).

    Args:
        img_suffix (str): Image file ending. Defaults to '.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_labelTrainIds.png'.
        data_prefix (dict): Image and label folders under data_root. Defaults to RGB/ and GT/LABELS/.
        **kwargs: `BaseSegDataset` arguments (data_root, ann_file, pipeline, ...).
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = 'RGB/*.png and GT/LABELS/*_labelTrainIds.png (run tools/convert_datasets/synthia.py)'

    def __init__(self, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)
