"""A training stage of a pipeline: one mmengine run of a config in the stage's folder, continued from its latest
complete checkpoint when an earlier attempt was interrupted."""
import os
import os.path as osp
import time

from mmengine.config import Config
from mmengine.registry import RUNNERS

from ..errors import UserError
from ..weights.io import find_latest_checkpoint, remove_partial_checkpoints


def shared_runtime(cfg):
    """What every training stage of a pipeline shares, from its experiment config.

    Returns:
        tuple[dict, dict, dict]: the runtime and schedule (the config without ``model``, ``stages`` and the val and
        test entries; validation off), the config's ``model``, and the schedule entries that decide a stage's result
        (optimiser, learning-rate schedule, loop, data loader) for its fingerprint.
    """
    base = cfg.to_dict()
    model = base.pop('model')
    base.pop('stages')
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg', 'test_dataloader', 'test_evaluator', 'test_cfg'):
        base.pop(key, None)
    base['train_cfg'] = dict(base['train_cfg'], val_interval=base['train_cfg']['max_iters'] + 1)
    schedule = {k: base.get(k) for k in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader')}
    return base, model, schedule


def train_in(folder, cfg, log=print):
    """Train ``cfg`` with ``folder`` as its work dir; returns the path of the last checkpoint.

    Args:
        folder (str): the stage's folder (held by the caller).
        cfg (dict | mmengine.Config): a complete training config; its ``train_cfg.max_iters`` must be a multiple
            of the checkpoint interval, so that the last iteration is saved.
        log (callable): where the resume line goes.
    """
    cfg = Config(dict(cfg)) if not isinstance(cfg, Config) else cfg
    cfg.work_dir = folder
    name = osp.basename(osp.normpath(folder))
    # Several runs in one process (and a stage run again after an interruption): mmengine keeps one logger,
    # message hub and visualizer per experiment name.
    cfg.experiment_name = f'{name}_{time.strftime("%Y%m%d_%H%M%S")}_{time.time_ns() % 10**9:09d}'
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.name = f'visualizer_{cfg.experiment_name}'
    max_iters = cfg.train_cfg.max_iters
    interval = cfg.default_hooks.checkpoint.interval
    if max_iters % interval:
        raise UserError(f'stage {name}: train_cfg.max_iters ({max_iters}) must be a multiple of the checkpoint '
                        f'interval ({interval}) so that its last iteration is saved')
    if int(os.environ.get('RANK', '0')) == 0:  # the main process holds the folder (see daseg.pipelines.runner)
        remove_partial_checkpoints(folder)
    try:
        latest = find_latest_checkpoint(folder)
    except UserError:
        latest = None
    if latest:
        cfg.resume, cfg.load_from = True, latest
        log(f'{name}: resuming from {latest}')
    runner = RUNNERS.build(cfg)
    runner.train()
    return osp.join(folder, f'iter_{max_iters}.pth')
