"""DDB's cross-path knowledge distillation (CKD, reference/ORIGINALS_2.md section 4.3): the student learns on the
target from two frozen teachers, the region-path (cut-mix) and the class-path (class-mix) models.

On the clean target image each teacher gives probabilities ``p = softmax(logits)``; with ``proto_rectify`` each is
multiplied by the prototype weights of its own features (:func:`daseg.models.ddb.prototype_weights`); the
pseudo-label is the argmax of their mean (:func:`daseg.models.ddb.rectified_ensemble`), every pixel weighing 1
(or DACS's confidence share with ``pl_weight``). The student's cross-entropy is taken on the target after colour
jitter and blur. With ``soft_distill`` the student instead matches ``softmax(mean teacher logits / T)`` by KL.

DDB jitters and blurs each target image in its data loader (one draw per image); here, as for ClassMix, the two
draws that decide jitter and blur are made once per batch from the step's generator (the factors per image).
"""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from ....errors import UserError
from ...ddb import load_prototypes, prototype_weights, rectified_ensemble
from ..strong_aug import strong_transform
from .base import UDAComponent, outside_autocast


def soft_distillation_loss(student_logits, teacher_probs, temperature: float = 1.0, weight: float = 0.1):
    """DDB's soft distillation: ``KL(teacher || student) * weight * T^2`` with torch's ``kl_div(..., 'batchmean')``
    divided by ``H * W``, i.e. the KL summed over classes and averaged over pixels.

    Args:
        student_logits (Tensor): [N, K, H, W].
        teacher_probs (Tensor): [N, K, H, W], the target distribution (``softmax(teacher logits / T)``).
        temperature (float): T, dividing the student logits. Default 1.
        weight (float): factor of the loss. Default 0.1 (DDB).

    Returns:
        Tensor: the scalar loss.
    """
    h, w = student_logits.shape[-2:]
    log_p = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_p, teacher_probs.float(), reduction='batchmean') / (h * w) * weight * temperature ** 2


@MODELS.register_module()
class CrossPathDistillation(UDAComponent):
    """The student's loss on the target against the rectified ensemble of frozen teachers (module docstring).

    The prototypes of each teacher are persistent buffers ``<name>.<teacher>_prototypes`` [K, C] and
    ``<name>.<teacher>_prototype_counts`` [K] (count 0: the class has no prototype), so checkpoints carry them;
    they come from a file (``prototypes``) or from a loaded checkpoint, and training refuses without them.

    Args:
        teachers (Sequence[str]): attributes of the wrapper's frozen teachers. Default DDB's
            ``('cu_model', 'ca_model')``.
        prototypes (dict[str, str | None] | None): teacher attribute -> prototype file
            (:func:`daseg.models.ddb.save_prototypes`); None or a missing entry: from a checkpoint.
        proto_rectify (bool): multiply each teacher's probabilities by its prototype weights. Default True.
        rectify_on_prob (bool): the weights multiply the probabilities (DDB's default); False: they multiply the
            logits before the softmax.
        renormalise (bool): renormalise each rectified distribution over the classes before the mean. Default
            False (DDB).
        exclude_missing_prototypes (bool): classes without a prototype get weight 0 (their pseudo-label
            probability is 0); False: as DDB, their prototype is the zero vector. Default True.
        pl_weight (bool): pixel weight = the batch's share of pixels whose ensemble maximum reaches
            ``pseudo_threshold`` (DDB's ``use_pl_weight``); False: 1 everywhere (DDB's default).
        pseudo_threshold (float): see ``pl_weight``. Default 0.968.
        soft_distill (bool): KL to the teachers' soft ensemble instead of cross-entropy to the pseudo-label.
        soft_distill_weight (float): weight of the KL. Default 0.1.
        temperature (float): T of the KL. Default 1.
        color_jitter_strength (float): jitter strength of the student's target image. Default 0.2.
        color_jitter_probability (float): the jitter applies when a uniform draw exceeds it. Default 0.2.
        blur (bool): Gaussian blur of the student's target image (when a uniform draw exceeds 0.5). Default True.
        name (str): attribute name (checkpoint prefix of the prototypes). Default ``'ckd'``.
        prefix (str): log prefix. Default ``'ckd'``.
    """

    def __init__(self, teachers=('cu_model', 'ca_model'), prototypes=None, proto_rectify: bool = True,
                 rectify_on_prob: bool = True, renormalise: bool = False, exclude_missing_prototypes: bool = True,
                 pl_weight: bool = False, pseudo_threshold: float = 0.968, soft_distill: bool = False,
                 soft_distill_weight: float = 0.1, temperature: float = 1.0, color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, blur: bool = True, name: str = 'ckd', prefix: str = 'ckd'):
        super().__init__(name, prefix)
        self.teacher_names = tuple(teachers)
        if not self.teacher_names:
            raise UserError('CrossPathDistillation: teachers must name at least one teacher')
        unknown = sorted(set(prototypes or {}) - set(self.teacher_names))
        if unknown:
            raise UserError(f'CrossPathDistillation: prototypes of {", ".join(unknown)}, which is not among the '
                            f'teachers {", ".join(self.teacher_names)}')
        if temperature <= 0:
            raise UserError(f'CrossPathDistillation: temperature must be > 0, got {temperature}')
        self.prototype_files = dict(prototypes or {})
        self.proto_rectify, self.rectify_on_prob, self.renormalise = proto_rectify, rectify_on_prob, renormalise
        self.exclude_missing = exclude_missing_prototypes
        self.pl_weight, self.pseudo_threshold = pl_weight, pseudo_threshold
        self.soft_distill, self.soft_weight, self.temperature = soft_distill, soft_distill_weight, temperature
        self.color_jitter_strength, self.color_jitter_probability, self.blur = (
            color_jitter_strength, color_jitter_probability, blur)
        self._with_prototypes = set()  # the teachers whose prototypes were read (from a file or a checkpoint)

    # -- prototypes ---------------------------------------------------------------------------------------

    def setup(self, uda) -> None:
        missing = [t for t in self.teacher_names if t not in uda.teachers]
        if missing:
            raise UserError(f'CrossPathDistillation: the wrapper has no teacher {", ".join(missing)} (it has '
                            f'{", ".join(uda.teachers) or "none"})')
        if not self.proto_rectify:
            return
        classes, channels = uda.model.num_classes, uda.model.decode_head.channels
        for teacher in self.teacher_names:
            self.register_buffer(f'{teacher}_prototypes', torch.zeros(classes, channels))
            self.register_buffer(f'{teacher}_prototype_counts', torch.zeros(classes, dtype=torch.long))
            path = self.prototype_files.get(teacher)
            if path:
                prototypes, counts, _ = load_prototypes(path, classes, channels)
                if not counts.any():
                    raise UserError(f'{path}: no class has a prototype (all counts are 0)')
                self.set_prototypes(teacher, prototypes, counts)

    def set_prototypes(self, teacher: str, prototypes: torch.Tensor, counts: torch.Tensor) -> None:
        """Use ``prototypes`` [K, C] with ``counts`` [K] (0: no prototype) for ``teacher``."""
        getattr(self, f'{teacher}_prototypes').copy_(prototypes)
        getattr(self, f'{teacher}_prototype_counts').copy_(counts)
        self._with_prototypes.add(teacher)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A checkpoint that holds a teacher's prototypes (a CKD run's) provides them.
        for teacher in self.teacher_names:
            if all(f'{prefix}{teacher}_{kind}' in state_dict for kind in ('prototypes', 'prototype_counts')):
                self._with_prototypes.add(teacher)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def update(self, uda, step) -> None:
        missing = [t for t in self.teacher_names if self.proto_rectify and t not in self._with_prototypes]
        if missing:
            raise UserError(f'CrossPathDistillation: no prototypes for the teacher {", ".join(missing)}: give its '
                            'prototype file (CKD: region_teacher.prototypes / class_teacher.prototypes) or load a '
                            'CKD checkpoint that holds them (load_from, --resume); or set proto_rectify=False')

    # -- targets ------------------------------------------------------------------------------------------

    @torch.no_grad()
    def teacher_outputs(self, uda, img):
        """Per teacher: logits [N, K, H, W] at the image size and prototype weights [N, K, H, W] (None without
        ``proto_rectify``)."""
        outputs = []
        for teacher in self.teacher_names:
            model = getattr(uda, teacher)
            if not self.proto_rectify:
                outputs.append((model.pseudo_logits(img), None))
                continue
            logits, features = model.logits_and_features(img)
            counts = getattr(self, f'{teacher}_prototype_counts')
            with outside_autocast(img):  # distances in float32
                weights = prototype_weights(features, getattr(self, f'{teacher}_prototypes'),
                                            counts > 0 if self.exclude_missing else None)
            outputs.append((logits, weights))
        return outputs

    @torch.no_grad()
    def pseudo_labels(self, uda, img):
        """The rectified ensemble of the teachers on ``img`` and its argmax.

        Returns:
            tuple[Tensor, Tensor, Tensor]: labels [N, H, W] long, pixel weights [N, H, W] float and the ensemble
            [N, K, H, W].
        """
        outputs = self.teacher_outputs(uda, img)
        if self.rectify_on_prob:
            ensemble = rectified_ensemble([logits.softmax(dim=1) for logits, _ in outputs],
                                          [weights for _, weights in outputs], self.renormalise)
        else:  # DDB's rectify_on_prob=False: the weights scale the logits
            ensemble = rectified_ensemble([(lg if w is None else lg * w).softmax(dim=1) for lg, w in outputs])
        confidence, label = ensemble.max(dim=1)
        if self.pl_weight:
            weight = (confidence >= self.pseudo_threshold).float().mean().expand_as(confidence).clone()
        else:
            weight = torch.ones_like(confidence)
        return label, weight, ensemble

    @torch.no_grad()
    def soft_targets(self, uda, img):
        """``softmax(mean over teachers of (rectified) logits / T)`` [N, K, H, W]; with ``proto_rectify`` the
        weights multiply the logits, as DDB's soft branch."""
        logits = [lg if w is None else lg * w for lg, w in self.teacher_outputs(uda, img)]
        return (sum(logits) / len(logits) / self.temperature).softmax(dim=1)

    # -- the loss -----------------------------------------------------------------------------------------

    def loss(self, uda, step) -> dict:
        img = step.target.img
        if self.soft_distill:
            targets = self.soft_targets(uda, img)
        else:
            label, weight, _ = self.pseudo_labels(uda, img)
        with outside_autocast(img):
            preprocessor = uda.data_preprocessor
            student_img = uda.to_input_format(strong_transform(
                img, mean=preprocessor.mean.flatten(), std=preprocessor.std.flatten(), generator=step.generator,
                color_jitter_s=self.color_jitter_strength, color_jitter_p=self.color_jitter_probability,
                blur=self.blur))
        if self.soft_distill:
            logits, _ = uda.model.logits_and_features(student_img)
            return {'loss_distill': soft_distillation_loss(logits, targets, self.temperature, self.soft_weight)}
        # For the debug pictures, as ClassMix's (DDB's 'zero' bridging: no source pixel, an empty mask).
        step.cache['class_mix'] = dict(pseudo_label=label, pseudo_weight=weight, mask=torch.zeros_like(weight),
                                       image=student_img, label=label)
        losses = uda.model.loss_by_label(student_img, label, weight)[0]
        losses['pseudo_weight'] = weight.mean()
        return losses
