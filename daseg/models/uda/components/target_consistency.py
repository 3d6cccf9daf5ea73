"""The unmixed-target term of the CLUDA-style fork's ``soft`` option (``mix_losses_soft``): besides the ClassMix
loss (scaled by 0.9 there, ``ClassMixSelfTraining(loss_weight=0.9)`` / ``DACS(mix_loss_weight=0.9)`` here), the
student's loss on the unmixed target images against the teacher's pseudo-labels, times 0.1.

The fork computed that term with the frozen EMA teacher instead of the student (and the mixed weight map), so it
had no gradient and only the 0.9 scaling changed training; here the student is trained by it, with the teacher's
pseudo-labels and their own (unmixed) confidence weights, the ones ClassMix and MIC share.

Cost: one more student forward and backward pass (encoder and decode head) on the target batch.
"""
from mmseg.registry import MODELS

from ....errors import UserError
from .base import UDAComponent, scaled_losses
from .self_training import teacher_pseudo_labels


@MODELS.register_module()
class TargetConsistency(UDAComponent):
    """``loss_weight`` x the student's pixel-weighted loss on the unmixed target images against the pseudo-labels
    of the EMA teacher ``teacher`` (see the module docstring).

    Args:
        loss_weight (float): weight of every loss term (accuracies are not scaled). Default 0.1 (the fork's).
        teacher (str): attribute of the EMA teacher. Default ``'ema_model'``.
        name (str): attribute name. Default ``'tgt'``.
        prefix (str): log prefix. Default ``'tgt'``.
    """

    def __init__(self, loss_weight: float = 0.1, teacher: str = 'ema_model', name: str = 'tgt',
                 prefix: str = 'tgt'):
        super().__init__(name, prefix)
        self.loss_weight = loss_weight
        self.teacher = teacher

    def setup(self, uda) -> None:
        if self.teacher not in uda.teachers:
            raise UserError(f'TargetConsistency: the wrapper has no teacher {self.teacher!r}')

    def loss(self, uda, step) -> dict:
        label, weight = teacher_pseudo_labels(uda, step, self.teacher)
        return scaled_losses(uda.model.loss_by_label(step.target.img, label, weight)[0], self.loss_weight)
