"""Mapillary Vistas v1.2 in the 19 Cityscapes classes, over the output of tools/convert_datasets/mapillary.py.

Three splits share one data root (the Mapillary root), chosen by `data_prefix`:

    training:              dict(img_path='training/images', seg_map_path='cityscapes_trainIdLabel/train/label')
    validation, halved:    dict(img_path='half/val_img', seg_map_path='half/val_label')   (DDB evaluates on this)
    validation, full size: dict(img_path='validation/images', seg_map_path='cityscapes_trainIdLabel/val/label')

mmseg's own `MapillaryDataset_v1` reads the 66 raw Mapillary labels instead.
"""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checked import CheckedDatasetMixin
from .convert.mapillary import (HALF_VAL_IMG_DIR, HALF_VAL_LABEL_DIR, IMG_SUFFIX, LABEL_SUFFIX, TRAIN_IMG_DIR,
                                TRAIN_LABEL_DIR, VAL_IMG_DIR, VAL_LABEL_DIR)
from .metainfo import CITYSCAPES_METAINFO

# The `data_prefix` of each split (see the module docstring).
TRAIN_PREFIX = dict(img_path=TRAIN_IMG_DIR, seg_map_path=TRAIN_LABEL_DIR)
HALF_VAL_PREFIX = dict(img_path=HALF_VAL_IMG_DIR, seg_map_path=HALF_VAL_LABEL_DIR)
VAL_PREFIX = dict(img_path=VAL_IMG_DIR, seg_map_path=VAL_LABEL_DIR)


@DATASETS.register_module()
class MapillaryCSDataset(CheckedDatasetMixin, BaseSegDataset):
    """Mapillary Vistas v1.2 with its labels mapped to the 19 Cityscapes trainIds (DDB's rules).

    Args:
        img_suffix (str): Image file ending. Defaults to '.jpg'.
        seg_map_suffix (str): Label file ending. Defaults to '.png'.
        data_prefix (dict): Image and label folders under data_root. Defaults to the training split; the
            halved validation split is dict(img_path='half/val_img', seg_map_path='half/val_label').
        **kwargs: `BaseSegDataset` arguments (data_root = the Mapillary root, ann_file with one image key per
            line, pipeline, ...).
    """

    METAINFO = CITYSCAPES_METAINFO
    LAYOUT = (f'{TRAIN_IMG_DIR}/*.jpg with {TRAIN_LABEL_DIR}/*.png, {HALF_VAL_IMG_DIR}/*.jpg with '
              f'{HALF_VAL_LABEL_DIR}/*.png, or {VAL_IMG_DIR}/*.jpg with {VAL_LABEL_DIR}/*.png '
              '(run tools/convert_datasets/mapillary.py)')

    def __init__(self, img_suffix=IMG_SUFFIX, seg_map_suffix=LABEL_SUFFIX, data_prefix=TRAIN_PREFIX, **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=dict(data_prefix),
                         **kwargs)
