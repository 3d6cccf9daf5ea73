"""DDB's bridging self-training (reference/ORIGINALS_2.md 4.2): the student trained on source content pasted onto
the target, against the teacher's pseudo-labels on the clean target.

DDB has two paths, each training its own teacher:

* the coarse region path ("cu"): :class:`CutMixSelfTraining`, one source box of 40% of the image area;
* the fine class path ("ca"): :class:`~daseg.models.uda.components.self_training.ClassMixSelfTraining` as it is
  (per image, ``ceil(n / 2)`` of the ``n`` classes of that source crop's own label). One difference: DDB counts
  and may draw the ignore label 255 when the crop has some (pasting unlabelled source pixels, trained as
  ignored); ours never draws it.

DDB mixes in the data loader, per item, on normalised CPU tensors; here the mixing is done on the GPU batch like
ClassMix, with DDB's draw law (:mod:`daseg.models.uda.cut_mix`) from the step's generator. The colour jitter and
blur after mixing are DACS's (one jitter / blur decision per batch, factors per image), where DDB decides per item.
The mixed label is ``m * gt + (1 - m) * PL`` and the mixed weight ``m * 1 + (1 - m) * w`` (``w`` the teacher's
confidence weight), as in ``dass/models/uda/st.py``; DDB's teacher is an ``EMATeacher(alpha=0.99)``.
"""
from mmseg.registry import MODELS

from ....errors import UserError
from ..cut_mix import CUT_AREA, cut_mix_boxes, cut_mix_masks
from .self_training import ClassMixSelfTraining, mix_with_pseudo_labels


@MODELS.register_module()
class CutMixSelfTraining(ClassMixSelfTraining):
    """Pixel-weighted student loss on CutMix images (one box of each source image pasted onto a target image;
    labels and weights follow the box, source pixels weigh 1), after colour jitter and blur: DDB's coarse region
    path (see the module docstring). Everything but the mask is :class:`ClassMixSelfTraining`'s, including the
    debug-picture cache ``step.cache['class_mix']`` (its ``mask`` is the box).

    Args:
        area (float): area fraction of the box, in (0, 1]. Default 0.4 (DDB).
        teacher, color_jitter_strength, color_jitter_probability, blur, loss_weight, mixed_transforms, name, prefix:
            as :class:`ClassMixSelfTraining`.
    """

    def __init__(self, area: float = CUT_AREA, teacher: str = 'ema_model', color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, blur: bool = True, loss_weight: float = 1.0,
                 mixed_transforms=(), name: str = 'mix', prefix: str = 'mix'):
        if not 0 < area <= 1:
            raise UserError(f'CutMixSelfTraining: area is the fraction of the image the box covers, in (0, 1]; '
                            f'got {area}')
        super().__init__(teacher, color_jitter_strength, color_jitter_probability, blur, loss_weight,
                         mixed_transforms, name, prefix)
        self.area = area

    def draw_keys(self, step):
        """The step's boxes [N, 4] long (top, left, height, width), on the generator's device."""
        return cut_mix_boxes(step.source.label.shape[0], tuple(step.source.label.shape[-2:]), step.generator,
                             self.area)

    @staticmethod
    def mix_batch(keys, src_img, src_label, tgt_img, pl_label, pl_weight):
        """CutMix masks from drawn boxes ``keys``, and the mixed images, labels and weights."""
        masks = cut_mix_masks(keys, src_label.shape[-2:])
        return (masks, *mix_with_pseudo_labels(masks, src_img, src_label, tgt_img, pl_label, pl_weight))
