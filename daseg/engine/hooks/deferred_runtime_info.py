"""Log variables copied to the host in batches, and the stop on a non-finite loss.

mmengine's ``RuntimeInfoHook`` turns every log variable into a Python float after every iteration: one
``.item()`` per variable, each one making the host wait until the GPU has finished the step, so the host can
never queue the next step's kernels ahead. :class:`DeferredRuntimeInfoHook` keeps the (detached) tensors and
copies them in one transfer when somebody reads them: at the logger's interval, before a checkpoint is written,
before validation and at the end. The message hub then holds exactly what mmengine's hook would have written.

It also checks the losses when it copies them: a non-finite total loss stops training with a UserError naming
the first iteration it occurred in, before any checkpoint holding the damaged weights can be written.
"""
import math

import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.registry import HOOKS

from ...errors import UserError


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """``RuntimeInfoHook`` whose per-iteration log variables reach the message hub in batches.

    Args:
        interval (int, optional): iterations between two copies; by default the ``LoggerHook``'s interval (the
            logger reads the message hub at exactly those iterations).
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = None):
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise UserError(f'DeferredRuntimeInfoHook: interval must be a positive int, got {interval!r}')
        self.interval = interval
        self._pending = []  # (iteration, {name: value}) in iteration order

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.interval is None:
            self.interval = next((hook.interval for hook in runner.hooks if isinstance(hook, LoggerHook)), 1)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs:
            self._pending.append((runner.iter, {
                key: value.detach() if isinstance(value, torch.Tensor) else value for key, value in outputs.items()}))
        if (self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)):
            self.flush(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.flush(runner)
        # The runner captured the message hub before calling this hook; store the completed one.
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = runner.message_hub.state_dict()

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)

    def flush(self, runner) -> None:
        """Copy the pending values to the host (one transfer per device) and write them to the message hub.

        Raises:
            UserError: a total loss (``loss`` or ``<prefix>.loss``) is NaN or infinite.
        """
        pending, self._pending = self._pending, []
        if not pending:
            return
        for iteration, values in zip((it for it, _ in pending), host_values([v for _, v in pending])):
            for key, value in values.items():
                if (key == 'loss' or key.endswith('.loss')) and not math.isfinite(value):
                    name = 'loss' if key == 'loss' else f'{key[:-len(".loss")]} loss'
                    raise UserError(f'non-finite {name} ({value}) at iteration {iteration}: training stopped at '
                                    f'iteration {runner.iter}; the checkpoints already written are intact')
            for key, value in values.items():
                runner.message_hub.update_scalar(f'train/{key}', value)


def host_values(records):
    """Python numbers of a list of ``{name: scalar tensor or number}``, read with one copy per device.

    Args:
        records (list[dict]): log variables; tensors must hold one element.

    Returns:
        list[dict]: the same keys, with floats (numbers other than tensors are kept).
    """
    by_device = {}
    for record in records:
        for value in record.values():
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ValueError(f'log variables must be scalars, got a tensor of shape {tuple(value.shape)}')
                by_device.setdefault(value.device, []).append(value.reshape(()).float())
    floats = {device: iter(torch.stack(values).cpu().tolist()) for device, values in by_device.items()}
    return [{key: next(floats[value.device]) if isinstance(value, torch.Tensor) else value
             for key, value in record.items()} for record in records]
