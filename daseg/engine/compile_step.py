"""``--compile``: the tensor work of the whole UDA training step under ``torch.compile``, with static shapes.

The method layer names its tensor-only functions in a ``COMPILED`` class attribute (attribute paths, e.g.
``'decode_head.head.forward'``); :func:`compile_step` replaces each of them on its instance by
``torch.compile(fn, dynamic=False)``. For DACS (+ MIC) that is, per iteration:

=================================  ==================================================================
unit                                what it covers
=================================  ==================================================================
student ``loss_by_label``           forward and decode losses of every component (source, ClassMix, MIC)
teacher ``label_batch``             the EMA teacher's logits, confidence weight and border rows
ImageNet model ``extract_feat``     the frozen features of the feature distance
``SourceSupervision.fd_loss``       the thing-class feature distance
``ClassMixSelfTraining.mix_batch``  ClassMix masks from drawn keys, mixed images, labels and weights
=================================  ==================================================================

With HRDA the units are the backbones and the two single-scale heads (see ``HRDAEncoderDecoder.COMPILED``).
What stays eager, and why:

* the draws (CPU generator) and the control flow they decide: whether jitter and blur run, each image's order of
  the four colour steps, MIC's block grid; they enter the compiled units as tensors (ClassMix's keys);
* colour jitter and blur: their branches and per-image step orders are host decisions (24 orders per image would
  each be a graph); a few small kernels per step;
* the backward passes, one per component as the wrapper runs them (AOT autograd compiles each unit's backward);
* the EMA update: already one ``torch._foreach_lerp_`` over all parameters; its weight changes every iteration
  of the warm-up, which a compiled version would guard on;
* the optimiser step: the merged groups make a few multi-tensor (``foreach``, the default on CUDA) updates;
  compiling it would need tensor learning rates, since the scheduler changes them every iteration.

Each unit sees a few input signatures (with and without gradient, with and without pixel weights), so a step
compiles a fixed set of graphs in its first iterations; ``RECOMPILE_LIMIT`` bounds the graphs per function.
``mode='reduce-overhead'`` replays the graphs as CUDA graphs; the batch's images are then copied into static
buffers (per domain and shape), so the graphs read them where they were captured.
"""
import torch
from torch import nn

from ..errors import UserError

RECOMPILE_LIMIT = 8
CUDA_GRAPH_MODES = ('reduce-overhead', 'max-autotune')


def compile_step(model: nn.Module, **options) -> nn.Module:
    """Replace the ``COMPILED`` functions of ``model`` and of every object it holds by compiled ones, in place.

    Args:
        model (nn.Module): a UDA wrapper or a segmentor.
        **options: ``torch.compile`` options (``mode``, ``backend``, ``options``, ...); ``dynamic`` is False.

    Returns:
        nn.Module: ``model``.
    """
    check_compile_options(options)
    torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
    owners = _owners(model)
    if not owners:  # e.g. mmseg's own EncoderDecoder (source-only training): its two networks
        for part in ('backbone', 'decode_head'):
            if getattr(model, part, None) is not None:
                getattr(model, part).compile(dynamic=False, **options)
    for owner in owners:
        for path in type(owner).COMPILED:
            *parents, name = path.split('.')
            target = owner
            for parent in parents:
                target = getattr(target, parent)
            setattr(target, name, torch.compile(getattr(target, name), dynamic=False, **options))
    if options.get('mode') in CUDA_GRAPH_MODES and hasattr(model, 'begin_step'):
        model.begin_step = StaticBatch(model.begin_step)
    return model


def check_compile_options(options: dict) -> None:
    """Refuse dynamic shapes, and CUDA graphs without a CUDA GPU, in one line."""
    if 'dynamic' in options:
        raise UserError('speed.compile: dynamic shapes are off (the step has static shapes); remove "dynamic"')
    if options.get('mode') in CUDA_GRAPH_MODES and not torch.cuda.is_available():
        raise UserError(f'--compile-mode {options["mode"]} replays CUDA graphs and needs a CUDA GPU; none is visible '
                        'to torch (on the CPU use --compile alone)')


def _owners(model):
    """``model``'s modules and the policies they hold (e.g. the wrapper's teachers) that declare ``COMPILED``."""
    found = []
    for module in model.modules():
        values = [module]
        for value in vars(module).values():
            values.extend(value.values() if isinstance(value, dict) else [value])
        found.extend(v for v in values if hasattr(type(v), 'COMPILED') and all(v is not f for f in found))
    return found


class StaticBatch:
    """The wrapper's ``begin_step``, then the batch's images and labels copied into buffers kept per domain, shape
    and dtype and marked static for CUDA graphs (a graph replays the addresses it was captured with)."""

    def __init__(self, begin_step):
        self.begin_step = begin_step
        self.buffers = {}

    def __call__(self, data):
        step = self.begin_step(data)
        for domain in ('source', 'target'):
            batch = getattr(step, domain)
            batch.img = self._static(domain, batch.img)
            if batch.label is not None:
                batch.label = self._static(domain, batch.label)
        return step

    def _static(self, domain, tensor):
        key = (domain, tuple(tensor.shape), tensor.dtype, tensor.device, tensor.stride())
        if key not in self.buffers:
            self.buffers[key] = torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype,
                                                    device=tensor.device)
            torch._dynamo.mark_static_address(self.buffers[key])
        return self.buffers[key].copy_(tensor)
