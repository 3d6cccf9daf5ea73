"""Data-parallel training of a UDA wrapper (DACS) on several processes, one GPU each.

mmengine's ``MMDistributedDataParallel`` cannot train DACS: its ``train_step`` runs the wrapped model's own
``forward``/``parse_losses``/``update_params`` sequence instead of ``DACS.train_step``, and torch's DDP expects one
forward and one backward pass per step where DACS has a teacher pass and two backward passes.
:class:`UDADistributedWrapper` keeps ``DACS.train_step`` whole and averages the student's gradients over the
processes just before the optimiser step:

* at construction every parameter and buffer is broadcast from rank 0, so all processes start identical;
* each process runs the whole DACS step on its own source and target batch (the samplers shard the data by
  rank), then the gradients are all-reduced (averaged), so every process takes the same optimiser step on the
  mean gradient of the global batch of ``world_size x batch_size`` source and target images;
* the student is therefore the same on every process, and so is the EMA teacher computed from it;
* BatchNorm normalises with each process's own batch (running statistics differ between processes) unless the
  config converts it with ``sync_bn='torch'``; before validation or testing the buffers are broadcast from rank 0,
  so every process evaluates, and rank 0 saves, the same model.

Gradients are averaged after the backward passes rather than overlapped with them as DDP does; on one node with
NVLink this costs a few milliseconds per step for MiT-B5.
"""
import torch.nn as nn
from mmengine.registry import MODEL_WRAPPERS

from ..errors import UserError
from .gradient_sync import BUCKET_MB, average_gradients, broadcast_module, broadcast_tensors


class GradientAveragingOptimWrapper:
    """An optimiser wrapper proxy whose ``step`` first averages the gradients of ``module`` over the processes.

    Everything else (``optim_context``, ``backward``, ``zero_grad``, learning rates, state) is the wrapped
    optimiser wrapper's.

    Args:
        optim_wrapper (OptimWrapper): the runner's optimiser wrapper.
        module (nn.Module): the model whose parameters' gradients are averaged.
        group (ProcessGroup, optional): the processes to average over; the default group when None.
        bucket_mb (int): largest flat buffer per all-reduce, MiB.
    """

    def __init__(self, optim_wrapper, module, group=None, bucket_mb=BUCKET_MB):
        self._optim_wrapper = optim_wrapper
        self._module = module
        self._group = group
        self._bucket_mb = bucket_mb

    def __getattr__(self, name):
        return getattr(self._optim_wrapper, name)

    def step(self, **kwargs):
        average_gradients(self._module.parameters(), self._group, self._bucket_mb)
        self._optim_wrapper.step(**kwargs)

    def update_params(self, loss, step_kwargs=None, zero_kwargs=None):
        self._optim_wrapper.backward(loss)
        if self._optim_wrapper.should_update():
            self.step(**(step_kwargs or {}))
            self._optim_wrapper.zero_grad(**(zero_kwargs or {}))


@MODEL_WRAPPERS.register_module()
class UDADistributedWrapper(nn.Module):
    """Runs ``module.train_step`` on every process with gradients averaged before the optimiser step.

    The runner chooses it for UDA models under ``--launcher pytorch`` (see the module docstring).

    Args:
        module (nn.Module): a model with ``train_step(data, optim_wrapper)`` that calls ``optim_wrapper.step()``
            once per iteration, e.g. DACS.
        bucket_mb (int): largest flat buffer per collective call, MiB. Default 64.
    """

    def __init__(self, module: nn.Module, bucket_mb: int = BUCKET_MB):
        super().__init__()
        if not callable(getattr(module, 'train_step', None)):
            raise UserError(f'UDADistributedWrapper needs a model with train_step, got {type(module).__name__}')
        self.module = module
        self.bucket_mb = bucket_mb
        broadcast_module(module, src=0, bucket_mb=bucket_mb)
        self._buffers_in_sync = True

    def train_step(self, data, optim_wrapper):
        """``module.train_step`` with the gradients averaged over the processes before the optimiser step."""
        self._buffers_in_sync = False
        return self.module.train_step(
            data, GradientAveragingOptimWrapper(optim_wrapper, self.module, bucket_mb=self.bucket_mb))

    def val_step(self, data):
        self._sync_buffers()
        return self.module.val_step(data)

    def test_step(self, data):
        self._sync_buffers()
        return self.module.test_step(data)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _sync_buffers(self):
        # BN running statistics are per process after training steps; evaluate rank 0's everywhere.
        if not self._buffers_in_sync:
            broadcast_tensors(self.module.buffers(), src=0, bucket_mb=self.bucket_mb)
            self._buffers_in_sync = True
