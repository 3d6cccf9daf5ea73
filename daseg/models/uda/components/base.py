"""The interface of a UDA component: one part of the self-training step with its own losses."""
import abc
import contextlib

import torch
from torch import nn


class UDAComponent(nn.Module, metaclass=abc.ABCMeta):
    """One part of a UDA method: an optional update at the start of the step, and losses (one backward pass).

    Args:
        name (str): attribute under which the wrapper holds the component (its parameters and sub-models are saved
            under ``<name>.``); unique within a wrapper.
        prefix (str): prefix of its log variables (``<prefix>.loss``, ...).

    Attributes:
        trains_whole_student (bool): whether its loss reaches every trained parameter of the student; False for a
            loss on part of it (e.g. ``FeatureMMD``: the encoder), which DDP must be told about when it comes last.
    """

    trains_whole_student = True

    def __init__(self, name: str, prefix: str):
        super().__init__()
        self.name = name
        self.prefix = prefix

    def setup(self, uda) -> None:
        """Called once the wrapper holds its student and teachers (e.g. to build a teacher of the component's own)."""

    def set_mode(self, training: bool) -> None:
        """Called after the wrapper's ``train(mode)`` (e.g. to keep an own teacher's dropout off)."""

    def update(self, uda, step) -> None:
        """Called at the start of every iteration, before any loss."""

    @abc.abstractmethod
    def loss(self, uda, step) -> dict:
        """The component's losses on the step's batches (inside the optimiser wrapper's context)."""


def outside_autocast(img: torch.Tensor):
    """A context without autocast on ``img``'s device: mixing and augmentation keep the images' float32 values
    (kornia's blur is a convolution, which autocast would run in half precision)."""
    if not torch.amp.is_autocast_available(img.device.type):  # e.g. the meta device of the FLOP count
        return contextlib.nullcontext()
    return torch.autocast(device_type=img.device.type, enabled=False)


def scaled_losses(losses: dict, factor: float) -> dict:
    """``losses`` with every loss term (a key containing ``loss``, what the wrapper sums) times ``factor``; the
    same dict when ``factor`` is 1."""
    if factor == 1:
        return losses
    return {k: v * factor if 'loss' in k else v for k, v in losses.items()}
