"""DACS self-training: source classes pasted onto the target (ClassMix), trained against the teacher's
pseudo-labels with their confidence weights."""
import torch
from mmseg.registry import MODELS

from ..class_mix import class_mix_keys, class_mix_masks, mix
from ..strong_aug import strong_transform
from .base import UDAComponent, outside_autocast, scaled_losses


def teacher_pseudo_labels(uda, step, teacher: str):
    """The pseudo-labels and weights of the wrapper's teacher ``teacher`` on the unmixed target batch, computed
    once per iteration and shared by every component that asks for them (e.g. ClassMix and MIC)."""
    return step.once(('pseudo_labels', teacher), lambda: uda.teachers[teacher].pseudo_labels(
        getattr(uda, teacher), step.target.img, step.target.samples))


@MODELS.register_module()
class ClassMixSelfTraining(UDAComponent):
    """Pixel-weighted student loss on ClassMix images (half of each source image's classes pasted onto a target
    image; labels and weights follow the mask, source pixels weigh 1), after colour jitter and blur.

    Between ClassMix and the colour jitter, ``mixed_transforms`` may change the mixed batch (e.g.
    :class:`~daseg.models.uda.rare_class_paste.RareClassPaste`); none by default.

    Args:
        teacher (str): attribute of the EMA teacher whose pseudo-labels are used. Default ``'ema_model'``.
        color_jitter_strength (float): brightness/contrast/saturation/hue strength of the jitter.
        color_jitter_probability (float): the jitter applies when a uniform draw exceeds this value.
        blur (bool): Gaussian blur of the mixed images (applied when a uniform draw exceeds 0.5).
        loss_weight (float): factor of every loss term of the mixed images (HRDA's detail term and auxiliary
            heads' included; accuracies are not scaled). Default 1.0.
        mixed_transforms (Sequence[dict | callable]): transforms ``f(step, img, label, weight) -> (img, label,
            weight)`` of the mixed batch, applied in order after ClassMix and before the colour jitter and blur
            (configs are built through MODELS). Default none.
        name (str): attribute name. Default ``'mix'``.
        prefix (str): log prefix. Default ``'mix'``.
    """

    # The mixing without its draws, which ``--compile`` may replace by a compiled function.
    COMPILED = ('mix_batch',)

    def __init__(self, teacher: str = 'ema_model', color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, blur: bool = True, loss_weight: float = 1.0,
                 mixed_transforms=(), name: str = 'mix', prefix: str = 'mix'):
        super().__init__(name, prefix)
        self.teacher = teacher
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_probability = color_jitter_probability
        self.blur = blur
        self.loss_weight = loss_weight
        # A plain list: the transforms hold no parameters or state to save.
        self.mixed_transforms = [MODELS.build(t) if isinstance(t, dict) else t for t in mixed_transforms]

    def loss(self, uda, step) -> dict:
        pl_label, pl_weight = teacher_pseudo_labels(uda, step, self.teacher)
        img, label, weight = self.class_mix(uda, step, pl_label, pl_weight)
        losses = scaled_losses(uda.model.loss_by_label(uda.to_input_format(img), label, weight)[0], self.loss_weight)
        losses['pseudo_weight'] = pl_weight.mean()
        return losses

    @torch.no_grad()
    def class_mix(self, uda, step, pl_label, pl_weight):
        """ClassMix of the source onto the target batch, then the strong augmentation of the mixed images.

        Returns:
            tuple[Tensor, Tensor, Tensor]: images [N, 3, H, W], labels [N, H, W], weights [N, H, W].
        """
        src_img, src_label, tgt_img = step.source.img, step.source.label, step.target.img
        with outside_autocast(src_img):
            keys = self.draw_keys(step).to(src_label.device, non_blocking=True)
            masks, mixed_img, mixed_label, mixed_weight = self.mix_batch(keys, src_img, src_label, tgt_img,
                                                                         pl_label, pl_weight)
            for transform in self.mixed_transforms:
                mixed_img, mixed_label, mixed_weight = transform(step, mixed_img, mixed_label, mixed_weight)
            preprocessor = uda.data_preprocessor
            mixed_img = strong_transform(
                mixed_img, mean=preprocessor.mean.flatten(), std=preprocessor.std.flatten(),
                generator=step.generator, color_jitter_s=self.color_jitter_strength,
                color_jitter_p=self.color_jitter_probability, blur=self.blur)
        # For the debug pictures and FeatureMMD (references, no copies).
        step.cache['class_mix'] = dict(pseudo_label=pl_label, pseudo_weight=pl_weight, mask=masks,
                                       image=mixed_img, label=mixed_label)
        return mixed_img, mixed_label, mixed_weight

    def draw_keys(self, step):
        """The step's draws of the masks (:func:`class_mix_keys`), on the generator's device; a subclass with
        another mask replaces this and :meth:`mix_batch`."""
        return class_mix_keys(step.source.label.shape[0], step.generator)

    @staticmethod
    def mix_batch(keys, src_img, src_label, tgt_img, pl_label, pl_weight):
        """ClassMix masks from drawn ``keys``, and the mixed images, labels and weights."""
        masks = class_mix_masks(src_label, keys=keys)
        return (masks, *mix_with_pseudo_labels(masks, src_img, src_label, tgt_img, pl_label, pl_weight))


def mix_with_pseudo_labels(masks, src_img, src_label, tgt_img, pl_label, pl_weight):
    """The mixed images, labels (source labels where pasted, pseudo-labels elsewhere) and pixel weights (1 where
    pasted, the pseudo weight elsewhere) of masks [N, 1, H, W]; images [N, 3, H, W], labels and weights [N, H, W]."""
    mixed_img = mix(masks, src_img, tgt_img)
    mixed_label = mix(masks[:, 0], src_label, pl_label).long()
    # A new tensor: the unmixed weight stays as it is for other components (MIC).
    mixed_weight = mix(masks[:, 0], torch.ones_like(pl_weight), pl_weight)
    return mixed_img, mixed_label, mixed_weight
