"""One's own dataset, labelled in any class list: images with `*_labelTrainIds.png` from
tools/convert_datasets/generic.py, or an unlabelled image folder (a target)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..errors import UserError
from .checked import CheckedDatasetMixin
from .convert.label_map_file import read_label_map


@DATASETS.register_module()
class GenericSegDataset(CheckedDatasetMixin, BaseSegDataset):
    """A dataset whose classes come from its label map file (or from `metainfo`).

    Args:
        label_map_file (str, optional): The label map file given to the converter; its classes (and palette) become
            the metainfo, so the class list is written once.
        metainfo (dict, optional): mmseg's `dict(classes=..., palette=...)`, instead of `label_map_file` (or to
            override its palette).
        img_suffix (str): Image file ending. Defaults to '.png'.
        seg_map_suffix (str): Label file ending. Defaults to '_labelTrainIds.png'.
        data_prefix (dict): Image and label folders under data_root. Defaults to images/ and labels/; without
            `seg_map_path` the samples are unlabelled (a target for adaptation), and no class list is needed.
        **kwargs: `BaseSegDataset` arguments (data_root, ann_file, pipeline, ...).
    """

    METAINFO = dict()
    LAYOUT = ('images/<stem><img_suffix> and labels/<stem>_labelTrainIds.png, or the folders given in data_prefix '
              '(run tools/convert_datasets/generic.py)')

    def __init__(self, label_map_file=None, metainfo=None, img_suffix='.png', seg_map_suffix='_labelTrainIds.png',
                 data_prefix=dict(img_path='images', seg_map_path='labels'), **kwargs):
        info = read_label_map(label_map_file).metainfo if label_map_file else {}
        info.update(metainfo or {})
        if 'classes' not in info and (data_prefix.get('seg_map_path') or kwargs.get('test_mode')):
            raise UserError("GenericSegDataset: a labelled dataset needs its classes: give label_map_file='<the "
                            "converter's label map file>' or metainfo=dict(classes=[...])")
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         metainfo=info, **kwargs)
