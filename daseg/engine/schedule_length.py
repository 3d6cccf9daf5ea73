"""The length of a training run: ``run_experiments.py --max-iters N``, and the check that the learning-rate
schedule ends where the training does.

A config counts iterations in several places: the loop (``train_cfg.max_iters``, ``val_interval``), every
iteration-based LR scheduler (``begin``, ``end``; :class:`PolyWarmupLR` also ``max_iters`` and ``warmup_iters``)
and the checkpoint interval. Changing only the loop (``--cfg-options train_cfg.max_iters=20000``) leaves the
schedule at the old length, so the learning rate never decays to its end value. :func:`set_max_iters` scales all
of them by ``N / train_cfg.max_iters``, the warm-up included: DAFormer warms up over 1500 of 40000 iterations,
so over 750 of 20000. The logging and plotting intervals are not part of the schedule and stay as they are.
"""
from ..errors import UserError

# The entries of an iteration-based scheduler that count iterations.
_SCHEDULER_ITERS = ('begin', 'end', 'max_iters', 'warmup_iters')


def _iteration_schedulers(cfg):
    schedulers = cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else schedulers
    return [s for s in schedulers if s.get('by_epoch', True) is False]


def set_max_iters(cfg, max_iters: int):
    """Make the run ``max_iters`` long, scaling the schedule, the warm-up and the intervals with it (in place).

    Args:
        cfg (mmengine.Config): an experiment config with an iteration-based ``train_cfg``.
        max_iters (int): the new length, 1 or more.

    Returns:
        mmengine.Config: ``cfg``.
    """
    old = (cfg.get('train_cfg') or {}).get('max_iters')
    if not old:
        raise UserError('--max-iters needs an iteration-based training loop (train_cfg.max_iters)')
    if max_iters < 1:
        raise UserError(f'--max-iters must be 1 or more, got {max_iters}')

    def scaled(n, at_least=1):
        # An iteration past the old end (e.g. a scheduler's end of 1e9) is left as it is; 0 stays 0.
        if not isinstance(n, (int, float)) or n > old or n == 0:
            return n
        return max(at_least, round(n * max_iters / old))

    for scheduler in _iteration_schedulers(cfg):
        for key in _SCHEDULER_ITERS:
            if key in scheduler:
                scheduler[key] = scaled(scheduler[key], at_least=0 if key == 'begin' else 1)
    if 'val_interval' in cfg.train_cfg:
        cfg.train_cfg.val_interval = scaled(cfg.train_cfg.val_interval)
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and checkpoint.get('by_epoch') is False and 'interval' in checkpoint:
        checkpoint['interval'] = scaled(checkpoint['interval'])
    # The schedule files' own variables, so that the dumped config reads consistently.
    for key in ('max_iters', 'warmup_iters'):
        if isinstance(cfg.get(key), int):
            cfg[key] = scaled(cfg[key])
    cfg.train_cfg.max_iters = max_iters
    return cfg


def schedule_mismatch(cfg):
    """A one-line warning when the LR schedule does not end where the training does, else None.

    The schedule ends at the largest ``end`` (or :class:`PolyWarmupLR` ``max_iters``) of its iteration-based
    schedulers; one without ``end`` ends with the training (mmengine fills it in).
    """
    max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
    schedulers = _iteration_schedulers(cfg)
    if not max_iters or not schedulers:
        return None
    ends = [max(s.get('end', max_iters), s.get('max_iters', 0)) for s in schedulers]
    if max(ends) == max_iters:
        return None
    return (f'warning: the learning-rate schedule ends at iteration {max(ends)} but train_cfg.max_iters is '
            f'{max_iters}; --max-iters {max_iters} scales the schedule, warm-up and intervals with it')
