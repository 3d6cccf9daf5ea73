"""How a teacher segmentor inside a UDA wrapper follows the student and turns its predictions into pseudo-labels.

A teacher is a segmentor held by the wrapper (or by a component) under its own attribute, so that checkpoints keep
the original prefixes; the objects here are its policies, registered by type:

* :class:`EMATeacher`: starts as a copy of the student and follows it with momentum (DACS, MIC's own teacher);
  stays in train mode (BatchNorm on the target batch's statistics, as the original) without dropout or drop-path;
* :class:`FrozenTeacher`: never changes and runs in eval mode (the ImageNet model of the feature distance).
"""
import torch
from mmseg.registry import MODELS

from .ema import disable_teacher_dropout, freeze_teacher, init_teacher, update_teacher
from .pseudo_label import apply_valid_mask, ignore_border, pseudo_label


@MODELS.register_module()
class FrozenTeacher:
    """A fixed segmentor in eval mode (e.g. the ImageNet model of the feature distance)."""

    def prepare(self, teacher):
        freeze_teacher(teacher)

    def set_mode(self, teacher, training: bool) -> None:
        teacher.eval()

    def update(self, teacher, student, iteration: int) -> None:
        """Nothing: a frozen teacher keeps its weights."""


@MODELS.register_module()
class EMATeacher(FrozenTeacher):
    """Momentum teacher with DACS pseudo-labels.

    Args:
        alpha (float): EMA momentum; the update uses ``min(1 - 1/(t+1), alpha)``; 0 copies the student every step.
        pseudo_threshold (float | None): softmax confidence that counts a pixel as reliable; the weight is the
            batch's share of reliable pixels. None: weight 1 everywhere.
        pseudo_weight_ignore_top (int): rows at the top of the target crop whose weight is 0 (DAFormer: 15).
        pseudo_weight_ignore_bottom (int): rows at the bottom of the target crop whose weight is 0 (DAFormer: 120).
    """

    def __init__(self, alpha: float = 0.999, pseudo_threshold=0.968, pseudo_weight_ignore_top: int = 0,
                 pseudo_weight_ignore_bottom: int = 0):
        self.alpha = alpha
        self.pseudo_threshold = pseudo_threshold
        self.ignore_top = pseudo_weight_ignore_top
        self.ignore_bottom = pseudo_weight_ignore_bottom

    def set_mode(self, teacher, training: bool) -> None:
        teacher.train(training)
        if training:
            disable_teacher_dropout(teacher)

    def update(self, teacher, student, iteration: int) -> None:
        """Iteration 0 copies the student; later iterations take one EMA step over the parameters."""
        if iteration == 0:
            init_teacher(teacher, student)
        else:
            update_teacher(teacher, student, iteration, self.alpha)

    # The tensor-only part of the pseudo-labels, which ``--compile`` may replace by a compiled one.
    COMPILED = ('label_batch',)

    @torch.no_grad()
    def label_batch(self, teacher, img):
        """Labels [N, H, W] long and weights [N, H, W] float of the teacher on ``img``, border rows zeroed.
        The teachers' predictions ignore image metadata, so none is passed (it would be a guard of the compiled
        function)."""
        logits = teacher.pseudo_logits(img)
        if self.pseudo_threshold is None:
            label = logits.argmax(dim=1)
            weight = torch.ones(label.shape, dtype=torch.float32, device=label.device)
        else:
            label, weight = pseudo_label(logits, self.pseudo_threshold)
        return label, ignore_border(weight, self.ignore_top, self.ignore_bottom)

    @torch.no_grad()
    def pseudo_labels(self, teacher, img, data_samples):
        """The teacher's labels and pixel weights on a batch.

        The weight is DACS's confidence share, zeroed in the ignored rows and multiplied by the dataset's
        ``valid_pseudo_mask`` where the target pipeline wrote one (HRDA's margins of the full image, cropped with it).

        Returns:
            tuple[Tensor, Tensor]: labels [N, H, W] long and weights [N, H, W] float.
        """
        label, weight = self.label_batch(teacher, img)
        valid = [s.get('valid_pseudo_mask') for s in data_samples]
        if all(v is not None for v in valid):
            mask = torch.stack([torch.as_tensor(v) for v in valid]).to(weight, non_blocking=True)
            weight = apply_valid_mask(weight, mask)
        return label, weight
