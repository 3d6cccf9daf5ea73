"""The EMA teacher of DACS self-training: momentum schedule, initialisation, update and dropout handling.

The teacher is a second copy of the segmentor whose parameters follow the student's as an exponential moving
average. It stays in train mode (its BatchNorm layers normalise with the statistics of the target batch, as in
the original), but its stochastic layers (Dropout, DropPath) are switched off so that pseudo-labels are
deterministic given the weights.
"""
import torch
from mmcv.cnn.bricks.drop import DropPath
from torch import nn
from torch.nn.modules.dropout import _DropoutNd


def ema_alpha(iteration: int, alpha: float = 0.999) -> float:
    """Momentum of the teacher update at an iteration: ``min(1 - 1 / (iteration + 1), alpha)``.

    The warm-up term lets the teacher follow the student closely early on (0 at iteration 0, 0.5 at 1, 0.9 at 9)
    until it reaches ``alpha``.

    Args:
        iteration (int): training iteration, counted from 0.
        alpha (float): the final momentum. Default 0.999.

    Returns:
        float: the momentum for this iteration.
    """
    return min(1 - 1 / (iteration + 1), alpha)


def _paired(teacher_named, student_named, what: str):
    """Zip two ``named_*`` iterators after checking that they hold the same names in the same order."""
    teacher_named, student_named = list(teacher_named), list(student_named)
    teacher_names = [name for name, _ in teacher_named]
    student_names = [name for name, _ in student_named]
    if teacher_names != student_names:
        raise ValueError(f'teacher and student {what} differ: the teacher must be built from the student config')
    return [(t, s) for (_, t), (_, s) in zip(teacher_named, student_named)]


@torch.no_grad()
def init_teacher(teacher: nn.Module, student: nn.Module) -> None:
    """Copy every parameter and buffer of the student into the teacher (in place).

    The original copied the parameters only and left the teacher's buffers at their initial values; the buffers
    are copied here too, so a teacher evaluated in eval mode starts from the student's BN statistics. In train
    mode (how the teacher runs during self-training) BN uses batch statistics, so this changes no pseudo-label.

    Args:
        teacher (nn.Module): the EMA model, same architecture as ``student``.
        student (nn.Module): the model being trained.
    """
    pairs = _paired(teacher.named_parameters(), student.named_parameters(), 'parameters')
    pairs += _paired(teacher.named_buffers(), student.named_buffers(), 'buffers')
    for teacher_tensor, student_tensor in pairs:
        teacher_tensor.copy_(student_tensor)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, iteration: int, alpha: float = 0.999) -> float:
    """One EMA step over the parameters: ``ema = a * ema + (1 - a) * student`` with ``a = ema_alpha(iteration)``.

    Buffers (BN running statistics, counters) are not averaged, as in the original. The update is one fused
    ``torch._foreach_lerp_`` over the parameter lists: a per-tensor Python loop cost the originals about a quarter
    of their training step.

    Args:
        teacher (nn.Module): the EMA model, updated in place.
        student (nn.Module): the model being trained (read only).
        iteration (int): training iteration, counted from 0.
        alpha (float): the final momentum. Default 0.999.

    Returns:
        float: the momentum ``a`` that was used (for logging).
    """
    momentum = ema_alpha(iteration, alpha)
    teacher_params = list(teacher.parameters())
    student_params = [p.detach() for p in student.parameters()]
    if len(teacher_params) != len(student_params):
        raise ValueError(f'teacher has {len(teacher_params)} parameters, student {len(student_params)}: '
                         'the teacher must be built from the student config')
    # lerp(ema, student, w) = ema + w * (student - ema) = (1 - w) * ema + w * student, with w = 1 - a.
    torch._foreach_lerp_(teacher_params, student_params, 1 - momentum)
    return momentum


def freeze_teacher(teacher: nn.Module) -> None:
    """Stop gradients into the teacher (or the frozen ImageNet model): every parameter gets ``requires_grad=False``.

    Args:
        teacher (nn.Module): the model to freeze, in place.
    """
    for param in teacher.parameters():
        param.requires_grad_(False)


def disable_teacher_dropout(teacher: nn.Module) -> None:
    """Put the teacher's Dropout and DropPath modules in eval mode, leaving every other module as it is.

    A plain function, not a context manager: ``teacher.train()`` switches these modules back on, so call it after
    every ``.train()`` on the teacher, or simply right before each teacher forward as the original did (it is
    idempotent and only walks the module tree). BatchNorm stays in train mode and uses the target batch's
    statistics.

    Args:
        teacher (nn.Module): the EMA model, modified in place.
    """
    for module in teacher.modules():
        if isinstance(module, (_DropoutNd, DropPath)):
            module.train(False)
