"""Mixed-precision training on the CPU or a GPU: an optimiser wrapper and the ``--amp`` option of the tools.

mmengine's ``AmpOptimWrapper`` works with DACS on a GPU (DACS runs its forward passes inside
``optim_wrapper.optim_context`` and its backward passes through ``optim_wrapper.backward``), but it refuses to
start without CUDA and always keeps a ``GradScaler``, even for bfloat16. :class:`AutocastOptimWrapper` autocasts
on whatever device the parameters are (so the mixed-precision step is testable on a CPU) and scales the loss only
for float16: bfloat16 has float32's exponent range, and a scaler would cost an unscale pass over all gradients and
an inf check that makes the host wait for the GPU at every step.
"""
import copy
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

from ..errors import UserError

AMP_DTYPES = {'bf16': 'bfloat16', 'fp16': 'float16'}


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` autocasts, with dynamic loss scaling for float16.

    Args:
        dtype (str): ``'bfloat16'`` or ``'float16'``.
        device_type (str, optional): ``'cuda'`` or ``'cpu'``; by default the device of the first parameter.
        loss_scale (str | float | dict): float16 only: ``'dynamic'``, a fixed scale, or ``GradScaler`` arguments.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', device_type: str = None, loss_scale='dynamic', **kwargs):
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise UserError(f"AutocastOptimWrapper: dtype must be 'bfloat16' or 'float16', got {dtype!r}")
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type or self._parameter_device_type()
        self.loss_scaler = None
        self._fixed_scale = None
        if self.cast_dtype == torch.float16:
            if loss_scale == 'dynamic':
                scaler_args = {}
            elif isinstance(loss_scale, (int, float)):
                self._fixed_scale = float(loss_scale)
                scaler_args = dict(init_scale=self._fixed_scale)
            elif isinstance(loss_scale, dict):
                scaler_args = dict(loss_scale)
            else:
                raise UserError(f"AutocastOptimWrapper: loss_scale must be 'dynamic', a number or a dict, "
                                f'got {loss_scale!r}')
            self.loss_scaler = torch.amp.GradScaler(self.device_type, **scaler_args)

    def _parameter_device_type(self) -> str:
        for group in self.optimizer.param_groups:
            for param in group['params']:
                return param.device.type
        return 'cuda' if torch.cuda.is_available() else 'cpu'

    @contextmanager
    def optim_context(self, model):
        """Gradient-accumulation context of ``OptimWrapper`` plus ``torch.autocast``."""
        with super().optim_context(model), torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return super().step(**kwargs)
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._fixed_scale)

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)


def with_amp(optim_wrapper: dict, amp: str) -> dict:
    """The ``optim_wrapper`` config with mixed precision ``amp`` (``'bf16'``, ``'fp16'`` or ``'none'``).

    Args:
        optim_wrapper (dict): a config's ``optim_wrapper`` of type ``OptimWrapper``.
        amp (str): ``'none'`` returns a copy unchanged.

    Returns:
        dict: a new config of type :class:`AutocastOptimWrapper` with the same optimiser and parameter groups.
    """
    cfg = copy.deepcopy(dict(optim_wrapper))
    if amp == 'none':
        return cfg
    if amp not in AMP_DTYPES:
        raise UserError(f"--amp must be one of bf16, fp16, none; got {amp!r}")
    if cfg.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AutocastOptimWrapper'):
        raise UserError(f"--amp {amp}: the config's optim_wrapper is already {cfg['type']}; drop --amp or set "
                        'optim_wrapper.type=OptimWrapper')
    cfg.update(type='AutocastOptimWrapper', dtype=AMP_DTYPES[amp])
    return cfg
