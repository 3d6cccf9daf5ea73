"""Image and label loaders that name the file when it is missing or cannot be decoded.

mmcv reports a corrupt file as an `AssertionError`, a cv2 assertion or a PIL error, and mmseg's label loader
as `'NoneType' object has no attribute 'squeeze'`, none of which names the file; these subclasses raise a
`UserError` instead and otherwise behave exactly like their bases (same arguments). A label whose size differs
from its image's is refused too, naming both files.
"""
import cv2
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..errors import UserError

# What the mmcv decoders raise for a corrupt file: PIL raises OSError, cv2 raises cv2.error on an empty
# buffer and returns None otherwise, which mmcv's image loader asserts against.
_IMAGE_DECODE_ERRORS = (AssertionError, OSError, ValueError, cv2.error)
# mmseg's label loader calls `.squeeze()` on the decoder's result, so cv2's None becomes an AttributeError.
_LABEL_DECODE_ERRORS = (AttributeError, OSError, ValueError, cv2.error)


def _user_error(path, err):
    if isinstance(err, FileNotFoundError):
        return UserError(f"file '{path}' does not exist")
    return UserError(f"'{path}' could not be decoded as an image ({type(err).__name__}: {err})")


@TRANSFORMS.register_module()
class LoadImageChecked(LoadImageFromFile):
    """`LoadImageFromFile` (same arguments) raising `UserError` that names a missing or undecodable image."""

    def transform(self, results):
        """Load `results['img_path']` into `results['img']` (see `LoadImageFromFile.transform`)."""
        try:
            return super().transform(results)
        except _IMAGE_DECODE_ERRORS as err:
            raise _user_error(results['img_path'], err) from None


@TRANSFORMS.register_module()
class LoadAnnotationsChecked(LoadAnnotations):
    """mmseg's `LoadAnnotations` (same arguments) raising `UserError` that names a missing or undecodable label."""

    def _load_seg_map(self, results):
        try:
            super()._load_seg_map(results)
        except _LABEL_DECODE_ERRORS as err:
            raise _user_error(results['seg_map_path'], err) from None
        # A label of another size than its image would fail later when the batch is stacked, naming no file.
        label_shape, img_shape = results['gt_seg_map'].shape[:2], results.get('ori_shape')
        if img_shape is not None and tuple(label_shape) != tuple(img_shape[:2]):
            raise UserError(f"label '{results['seg_map_path']}' is {label_shape[1]}x{label_shape[0]} pixels, its "
                            f"image '{results.get('img_path')}' {img_shape[1]}x{img_shape[0]}; expected equal "
                            'sizes')
