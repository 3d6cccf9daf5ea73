"""The learning-rate schedule of DAFormer/HRDA/MIC in closed form.

mmcv 1.x computed ``lr = (base - min_lr) * (1 - i / max_iters) ** power + min_lr`` at iteration ``i`` and,
during the first ``warmup_iters``, multiplied it by ``1 - (1 - i / warmup_iters) * (1 - warmup_ratio)``.
mmengine's LinearLR + PolyLR chain reaches both ends one iteration early, so this reproduces the original.
"""
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler
from mmengine.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class PolyWarmupLR(LRSchedulerMixin, _ParamScheduler):
    """Poly decay over ``max_iters`` with a linear warm-up factor over the first ``warmup_iters``.

    Args:
        optimizer: The wrapped optimizer.
        max_iters (int): Iterations of the whole schedule (the poly decay reaches ``eta_min`` there).
        power (float): Poly exponent.
        eta_min (float): Final learning rate.
        warmup_iters (int): Length of the linear warm-up; 0 disables it.
        warmup_ratio (float): Warm-up factor at iteration 0.
        end (int | None): Last iteration the scheduler acts on (the Runner fills in the loop's length);
            defaults to ``max_iters``.
    """

    def __init__(self, optimizer, max_iters: int, power: float = 1.0, eta_min: float = 0.0,
                 warmup_iters: int = 1500, warmup_ratio: float = 1e-6, begin: int = 0, end=None,
                 last_step: int = -1, by_epoch: bool = False, verbose: bool = False):
        self.max_iters = max_iters
        self.power = power
        self.eta_min = eta_min
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        super().__init__(optimizer, begin=begin, end=max_iters if end is None else end, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    def _get_value(self):
        i = self.last_step
        decay = (1 - i / self.max_iters) ** self.power
        warm = 1.0
        if i < self.warmup_iters:
            warm = 1 - (1 - i / self.warmup_iters) * (1 - self.warmup_ratio)
        return [((base - self.eta_min) * decay + self.eta_min) * warm for base in self.base_values]
