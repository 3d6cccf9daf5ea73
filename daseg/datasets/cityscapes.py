"""mmseg's Cityscapes dataset with the layout checks of `CheckedDatasetMixin`."""
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin


@DATASETS.register_module()
class CheckedCityscapesDataset(CheckedDatasetMixin, CityscapesDataset):
    """`CityscapesDataset` ('_leftImg8bit.png' / '_gtFine_labelTrainIds.png') that checks its layout.

    Args:
        **kwargs: `CityscapesDataset` arguments; `data_prefix` names the split, e.g.
            dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train').
    """

    LAYOUT = ('leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine/<split>/<city>/*_gtFine_labelTrainIds.png '
              '(run tools/convert_datasets/cityscapes.py)')
