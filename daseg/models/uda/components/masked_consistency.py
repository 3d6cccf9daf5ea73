"""MIC, masked image consistency (Hoyer et al., CVPR 2023): the student must predict the pseudo-labels of the
unmasked target image from a copy with random blocks masked out, which makes it use context.

The masked batch depends on ``mask_mode`` (reference/ORIGINALS_2.md section 2.2):

=====================  ============================  =====================  =========================
mode                   images                        labels                 pixel weights
=====================  ============================  =====================  =========================
separate(aug)          first source + first target   ground truth, PL       1, PL weight
separatesrc(aug)       the source batch              ground truth           none
separatetrg(aug)       the (unmixed) target batch    PL                     PL weight
=====================  ============================  =====================  =========================

``*aug`` modes jitter and blur a copy before masking. Pseudo-labels (PL) come from the DACS teacher
(``mask_alpha='same'`` and ``mask_pseudo_threshold='same'``: its labels and un-mixed confidence weight) or from
the component's own EMA teacher, saved as ``mic.teacher.ema_model.*`` like MIC's checkpoints.
"""
import torch
from mmseg.registry import MODELS
from torch import nn

from ....errors import UserError
from ..masking import build_mask_generator
from ..strong_aug import strong_transform
from ..teachers import EMATeacher
from .base import UDAComponent, outside_autocast
from .self_training import teacher_pseudo_labels


def _first_pair(step, pseudo):
    label, weight = pseudo()
    img = torch.cat([step.source.img[:1], step.target.img[:1]])
    return img, torch.cat([step.source.label[:1], label[:1]]), torch.cat([torch.ones_like(weight[:1]), weight[:1]])


def _source(step, pseudo):
    return step.source.img, step.source.label, None


def _target(step, pseudo):
    label, weight = pseudo()
    return step.target.img, label, weight


# mode -> (batch builder, colour augmentation before masking)
MODES = {
    'separate': (_first_pair, False), 'separateaug': (_first_pair, True),
    'separatesrc': (_source, False), 'separatesrcaug': (_source, True),
    'separatetrg': (_target, False), 'separatetrgaug': (_target, True),
}


@MODELS.register_module()
class MaskedConsistency(UDAComponent):
    """The student's loss on masked images against the labels of :data:`MODES`, times ``mask_lambda``.

    Args:
        mask_mode (str): one of :data:`MODES`.
        mask_generator (dict): ``dict(type='block', mask_ratio=0.7, mask_block_size=64)``.
        mask_lambda (float): weight of the masked loss. As the original, it scales the decode losses of the
            prediction (for HRDA the fused one) but not HRDA's detail-crop term ``hr.*``.
        mask_alpha (float | str): EMA momentum of an own teacher, or ``'same'``: the DACS teacher's.
        mask_pseudo_threshold (float | str | None): confidence threshold of an own teacher, ``'same'``: the DACS
            teacher's, None: weight 1 everywhere. With both ``'same'`` no own teacher is built: the DACS teacher's
            pseudo-labels are used.
        color_jitter_strength (float): jitter strength of the ``*aug`` modes. Default 0.2.
        color_jitter_probability (float): the jitter applies when a uniform draw exceeds it. Default 0.2.
        teacher (str): attribute of the DACS EMA teacher. Default ``'ema_model'``.
        name (str): attribute name (checkpoint prefix). Default ``'mic'``.
        prefix (str): log prefix. Default ``'masked'`` (as the original).
    """

    def __init__(self, mask_mode: str = 'separatetrgaug', mask_generator: dict = None, mask_lambda: float = 1.0,
                 mask_alpha='same', mask_pseudo_threshold='same', color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, teacher: str = 'ema_model', name: str = 'mic',
                 prefix: str = 'masked'):
        super().__init__(name, prefix)
        if mask_mode not in MODES:
            raise UserError(f'mask_mode must be one of {", ".join(MODES)}, got {mask_mode!r}')
        self.mask_mode = mask_mode
        self.build_batch, self.augment = MODES[mask_mode]
        self.mask_generator = build_mask_generator(
            mask_generator or dict(type='block', mask_ratio=0.7, mask_block_size=64))
        self.mask_lambda = mask_lambda
        self.mask_alpha = mask_alpha
        self.mask_pseudo_threshold = mask_pseudo_threshold
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_probability = color_jitter_probability
        self.dacs_teacher = teacher
        self.own_policy = None

    def setup(self, uda) -> None:
        if self.dacs_teacher not in uda.teachers:
            raise UserError(f'MaskedConsistency: the wrapper has no teacher {self.dacs_teacher!r}')
        uses_target = self.build_batch is not _source
        if uses_target and (self.mask_alpha != 'same' or self.mask_pseudo_threshold != 'same'):
            dacs = uda.teachers[self.dacs_teacher]
            self.own_policy = EMATeacher(
                alpha=dacs.alpha if self.mask_alpha == 'same' else self.mask_alpha,
                pseudo_threshold=(dacs.pseudo_threshold if self.mask_pseudo_threshold == 'same'
                                  else self.mask_pseudo_threshold),
                pseudo_weight_ignore_top=dacs.ignore_top, pseudo_weight_ignore_bottom=dacs.ignore_bottom)
            # teacher.ema_model: the key names of MIC's released checkpoints (mic.teacher.ema_model.*).
            self.teacher = nn.Module()
            uda.add_teacher('ema_model', self.own_policy, owner=self.teacher)

    def set_mode(self, training: bool) -> None:
        if self.own_policy is not None:
            self.own_policy.set_mode(self.teacher.ema_model, training)

    def update(self, uda, step) -> None:
        if self.own_policy is not None:
            self.own_policy.update(self.teacher.ema_model, uda.model, step.iteration)

    def pseudo_labels(self, uda, step):
        """Labels and weights of the unmixed target: the DACS teacher's, or the own teacher's."""
        if self.own_policy is None:
            return teacher_pseudo_labels(uda, step, self.dacs_teacher)
        return step.once(('pseudo_labels', 'mic'), lambda: self.own_policy.pseudo_labels(
            self.teacher.ema_model, step.target.img, step.target.samples))

    def loss(self, uda, step) -> dict:
        img, label, weight = self.build_batch(step, lambda: self.pseudo_labels(uda, step))
        img = self.masked_images(uda, step, img)
        losses = uda.model.loss_by_label(uda.to_input_format(img), label, weight)[0]
        if self.mask_lambda != 1:
            # The prediction's own losses (decode.loss_*); HRDA's detail term (decode.hr.*) keeps its weight.
            losses = {k: v * self.mask_lambda if k.startswith('decode.loss') else v for k, v in losses.items()}
        return losses

    @torch.no_grad()
    def masked_images(self, uda, step, img):
        """A copy of ``img``, colour-augmented for the ``*aug`` modes, then block-masked."""
        with outside_autocast(img):
            if self.augment:
                preprocessor = uda.data_preprocessor
                # Jitter and blur are drawn independently of the ClassMix augmentation's blur flag.
                img = strong_transform(
                    img.clone(), mean=preprocessor.mean.flatten(), std=preprocessor.std.flatten(),
                    generator=step.generator, color_jitter_s=self.color_jitter_strength,
                    color_jitter_p=self.color_jitter_probability, blur=True)
            return self.mask_generator.mask_image(img, step.generator)
