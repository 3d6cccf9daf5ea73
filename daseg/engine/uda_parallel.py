"""Data-parallel training of a UDA wrapper (DACS) on several processes, one GPU each, on torch's DDP.

mmengine's ``MMDistributedDataParallel`` cannot train DACS: its ``train_step`` runs the wrapped model's own
``forward``/``parse_losses``/``update_params`` sequence instead of ``DACS.train_step``, which computes one loss per
component and back-propagates each at once. :class:`UDADistributedWrapper` keeps ``DACS.train_step`` whole and puts
the UDA model under torch's ``DistributedDataParallel``, whose bucketed all-reduce overlaps the last backward pass:

* the student's training calls (``loss_by_label``) go through DDP's forward (``UDAEncoderDecoder.route_calls``),
  so DDP hooks every backward pass that reaches a trained parameter: the student's and the components' own (e.g.
  MRM's Rebuilder); the teachers' parameters do not train and are no part of it;
* every component's forward pass but the last runs under ``no_sync()``: those backward passes only accumulate
  gradients, and the last one all-reduces the accumulated sum (divided by the number of processes), i.e. the mean
  over the processes of the step's gradient. Every process takes the same optimiser step on the mean gradient of
  the global batch of ``world_size x batch_size`` source and target images;
* at construction DDP copies rank 0's parameters (teachers included) to every process, and the buffers are copied
  here; student and EMA teacher therefore stay the same on every process;
* DDP must know, in the last backward pass, which trained parameters took no part in it: needed when a component
  that is not the last owns trained parameters (e.g. MRM before MIC), or when the last one trains only part of the
  student (``trains_whole_student`` False, e.g. ``FeatureMMD``), then ``find_unused_parameters`` is on
  (or force it with ``model_wrapper_cfg=dict(find_unused_parameters=True)``);
* BatchNorm normalises with each process's own batch (running statistics differ between processes, DDP does not
  broadcast them) unless the config converts it with ``sync_bn='torch'``; before validation or testing the
  buffers are broadcast from rank 0, so every process evaluates, and rank 0 saves, the same model.
"""
import contextlib
import warnings

import torch.nn as nn
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel

from ..errors import UserError
from .tensor_broadcast import BUCKET_MB, broadcast_tensors


class _StudentEntry(nn.Module):
    """DDP's module: the whole UDA model (so every trained parameter is DDP's), whose forward is the student's."""

    def __init__(self, uda: nn.Module):
        super().__init__()
        self.uda = uda

    def forward(self, *args, **kwargs):
        return self.uda.model(*args, **kwargs)


class LastBackwardSyncs:
    """An optimiser wrapper proxy for one UDA step of ``components`` losses: the forward passes inside all but the
    last ``optim_context`` run under the DDP module's ``no_sync()`` (see the module docstring).

    Everything else (``backward``, ``step``, ``zero_grad``, learning rates, state) is the wrapped optimiser
    wrapper's; ``step`` refuses to run when the last loss had no backward pass (its gradients were not averaged).
    """

    def __init__(self, optim_wrapper, ddp: DistributedDataParallel, components: int):
        self._optim_wrapper = optim_wrapper
        self._ddp = ddp
        self._left = components
        self._unsynced = False

    def __getattr__(self, name):
        return getattr(self._optim_wrapper, name)

    @contextlib.contextmanager
    def optim_context(self, model):
        self._left -= 1
        accumulate = self._ddp.no_sync() if self._left > 0 else contextlib.nullcontext()
        with self._optim_wrapper.optim_context(model), accumulate:
            yield
        self._unsynced = self._left <= 0

    def backward(self, loss, **kwargs):
        self._optim_wrapper.backward(loss, **kwargs)
        self._unsynced = False

    def step(self, **kwargs):
        if self._unsynced or self._left > 0:
            raise UserError("UDADistributedWrapper: the step's last loss had no backward pass under DDP's sync (a "
                            'last component without gradient, or fewer losses than components), so the gradients '
                            'were not averaged over the processes; put a component with a gradient last')
        self._optim_wrapper.step(**kwargs)


@MODEL_WRAPPERS.register_module()
class UDADistributedWrapper(nn.Module):
    """Runs ``module.train_step`` on every process with the trained parameters under torch's DDP.

    The runner chooses it for UDA models under ``--launcher pytorch`` (see the module docstring).

    Args:
        module (nn.Module): a UDA wrapper (``train_step(data, optim_wrapper)`` with one ``optim_context`` and at
            most one backward pass per component, then one ``optim_wrapper.step()``), e.g. DACS.
        bucket_mb (int): largest flat buffer per broadcast of the buffers, MiB. Default 64.
        find_unused_parameters (bool, optional): DDP's option; None: on only when a component before the last
            owns trained parameters or the last one trains only part of the student.
    """

    def __init__(self, module: nn.Module, bucket_mb: int = BUCKET_MB, find_unused_parameters=None):
        super().__init__()
        if not callable(getattr(module, 'train_step', None)) or not hasattr(module, 'components'):
            raise UserError(f'UDADistributedWrapper needs a UDA wrapper, got {type(module).__name__}')
        if not callable(getattr(module.model, 'route_calls', None)):
            raise UserError(f'UDADistributedWrapper: the student {type(module.model).__name__} cannot route its '
                            'training calls through DDP; use a UDAEncoderDecoder or HRDAEncoderDecoder')
        self.module = module
        self.bucket_mb = bucket_mb
        if find_unused_parameters is None:
            find_unused_parameters = (
                any(p.requires_grad for c in module.components[:-1] for p in c.parameters())
                or any(not getattr(c, 'trains_whole_student', True) for c in module.components[-1:]))
        with warnings.catch_warnings():
            # torch 2.13 renames it forward_sync_buffers, which the older versions of our range lack.
            warnings.filterwarnings('ignore', '`broadcast_buffers` is deprecated', FutureWarning)
            ddp = DistributedDataParallel(_StudentEntry(module), broadcast_buffers=False,
                                          find_unused_parameters=find_unused_parameters)
        module.model.route_calls(ddp)
        # Not a submodule: it holds ``module`` again (state dicts and checkpoints stay the UDA model's).
        self.__dict__['ddp'] = ddp
        self._buffers_in_sync = False
        self._sync_buffers()

    def train_step(self, data, optim_wrapper):
        """``module.train_step`` with DDP's gradient average in the last backward pass."""
        self._buffers_in_sync = False
        return self.module.train_step(data, LastBackwardSyncs(optim_wrapper, self.ddp, len(self.module.components)))

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
