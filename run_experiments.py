#!/usr/bin/env python
"""Train one experiment from an mmseg-style config.

    python run_experiments.py --config configs/daformer/gta2cs_source_only_daformer_mitb5.py
    torchrun --nproc_per_node 4 run_experiments.py --config CFG --launcher pytorch

Output goes to ``work_dirs/<yymmdd_HHMMSS>_<config name>/`` unless ``--work-dir`` is given: the resolved
config, the log, checkpoints (``iter_N.pth``, ``last_checkpoint``) and ``training_curve.png``.
"""
import argparse
import glob
import os.path as osp
import time

from daseg.cli import load_config, run_main
from daseg.errors import UserError


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', required=True, help='experiment config (.py)')
    p.add_argument('--work-dir', help='output folder (default: work_dirs/<timestamp>_<config name>)')
    p.add_argument('--seed', type=int, help='random seed (default: the config\'s randomness.seed)')
    p.add_argument('--deterministic', action='store_true', help='deterministic algorithms (slower)')
    p.add_argument('--resume', action='store_true', help='continue the run in --work-dir from its last checkpoint')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config entries, e.g. train_cfg.max_iters=1000')
    p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                   help="'pytorch' under torchrun for several GPUs")
    return p.parse_args(argv)


def default_work_dir(config_path: str) -> str:
    name = osp.splitext(osp.basename(config_path))[0]
    return osp.join('work_dirs', f'{time.strftime("%y%m%d_%H%M%S")}_{name}')


def has_checkpoint(work_dir: str) -> bool:
    return bool(glob.glob(osp.join(work_dir, 'iter_*.pth'))) or osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def prepare_config(args):
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.resume:
        if not args.work_dir:
            raise UserError('--resume needs --work-dir: the folder of the run to continue')
        if not has_checkpoint(args.work_dir):
            raise UserError(f'nothing to resume: {args.work_dir} holds no checkpoint (iter_*.pth)')
        cfg.resume = True
    elif args.work_dir and has_checkpoint(args.work_dir):
        raise UserError(f'{args.work_dir} already holds a training run; add --resume to continue it '
                        'or choose another --work-dir')
    cfg.work_dir = args.work_dir or default_work_dir(args.config)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = prepare_config(args)
    from mmengine.registry import RUNNERS
    runner = RUNNERS.build(cfg)
    runner.train()
    print(f'done: {cfg.work_dir}')


if __name__ == '__main__':
    run_main(main)
