"""HRDA's pseudo-label margins: no pseudo-label weight near the borders of the full target image.

Target images carry rectification artefacts at the top and sides and the ego-vehicle at the bottom, where
pseudo-labels drift; HRDA ignores [30, 240, 30, 30] pixels (top, bottom, left, right) of its 1024-pixel-high
Cityscapes images. As the original (which writes the mask in the dataset before any transform), the margins
belong to the whole image: :class:`PseudoMarginMask` writes a ``valid_pseudo_mask`` of the loaded image that the
following Resize, RandomCrop and RandomFlip transform like a label map, and :class:`PackUDATargetInputs` hands it
to the teacher's pseudo-labelling through the data sample's metainfo.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from daseg.errors import UserError

MASK_KEY = 'valid_pseudo_mask'


def check_margins(margins):
    """``margins`` as a tuple ``(top, bottom, left, right)`` of non-negative ints, or None.

    Args:
        margins (Sequence[int] | None): the config value.

    Returns:
        tuple[int, int, int, int] | None
    """
    if margins is None:
        return None
    values = tuple(margins) if isinstance(margins, (list, tuple)) else ()
    if len(values) != 4 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise UserError(f'crop_pseudo_margins must be 4 non-negative ints [top, bottom, left, right], got {margins!r}')
    return values


def margin_mask(height: int, width: int, margins) -> np.ndarray:
    """1 inside the margins, 0 within ``margins`` = (top, bottom, left, right) pixels of each border: [H, W] uint8."""
    top, bottom, left, right = check_margins(margins)
    keep = np.zeros((height, width), dtype=np.uint8)
    # Slices with an explicit end: a slice [-0:] would select every row.
    keep[top:max(height - bottom, top), left:max(width - right, left)] = 1
    return keep


@TRANSFORMS.register_module()
class PseudoMarginMask(BaseTransform):
    """Write ``valid_pseudo_mask`` (see the module docstring) for the image as loaded.

    Args:
        margins (Sequence[int]): (top, bottom, left, right) in pixels of the loaded image; HRDA's Cityscapes:
            [30, 240, 30, 30].
    """

    def __init__(self, margins):
        self.margins = check_margins(margins)

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        results[MASK_KEY] = margin_mask(height, width, self.margins)
        results.setdefault('seg_fields', [])
        if MASK_KEY not in results['seg_fields']:
            results['seg_fields'].append(MASK_KEY)
        return results


@TRANSFORMS.register_module()
class PackUDATargetInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` that also passes a ``valid_pseudo_mask`` on in the data sample's metainfo."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if MASK_KEY in results:
            packed['data_samples'].set_metainfo({MASK_KEY: results[MASK_KEY]})
        return packed
