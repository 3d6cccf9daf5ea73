#!/usr/bin/env python
"""Train one experiment from an mmseg-style config.

    python run_experiments.py configs/daformer/gta2cs_source_only_daformer_mitb5.py   # or --config CFG
    python run_experiments.py CFG --amp                        # mixed precision (bf16) on one GPU
    python run_experiments.py CFG --max-iters 20000            # half the schedule: warm-up, LR decay, intervals
    tools/dist_train.sh CFG 4 [--scale-lr] [more options]      # 4 GPUs (torchrun ... --launcher pytorch)

Output goes to ``work_dirs/<yymmdd_HHMMSS>_<config name>/`` unless ``--work-dir`` is given: the resolved
config, the log, checkpoints (``iter_N.pth``, ``last_checkpoint``) and ``training_curve.png``. One training at a
time holds a work dir (a second one stops with a line naming it); ``--resume`` continues from its latest complete
checkpoint. ``load_from`` must fit the model exactly unless ``--load-part PREFIX`` asks for part of it.
The package (torch, mmseg) is imported only after the arguments are parsed, so that ``--help`` answers at once.
"""
import argparse
import contextlib
import glob
import os
import os.path as osp
import time

COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune-no-cudagraphs')


def add_speed_arguments(p):
    """--amp, --channels-last, --compile, --compile-mode, --checkpoint-blocks, --tf32 (also tools/benchmark.py's);
    returns their group."""
    speed = p.add_argument_group('speed (see daseg.engine.speed)')
    speed.add_argument('--amp', nargs='?', const='bf16', choices=['none', 'bf16', 'fp16'], default='none',
                       help='mixed precision: bf16 (also a bare --amp), or fp16 with dynamic loss scaling '
                            '(default: none)')
    speed.add_argument('--channels-last', action='store_true', help='NHWC weights and images')
    speed.add_argument('--compile', action='store_true',
                       help='torch.compile the training step (see daseg.engine.compile_step)')
    speed.add_argument('--compile-mode', choices=COMPILE_MODES,
                       help="torch.compile mode, implies --compile; 'reduce-overhead': CUDA graphs (GPU only)")
    speed.add_argument('--checkpoint-blocks', action='store_true',
                       help='activation checkpointing of the MiT blocks (less memory, slower)')
    speed.add_argument('--tf32', action='store_true', help='TF32 for the float32 matmuls and convolutions (CUDA)')
    return speed


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', metavar='CONFIG', help="experiment config (.py), as for mmseg's train.py")
    p.add_argument('--config', dest='config_option', metavar='CONFIG', help='the same, as an option')
    p.add_argument('--work-dir', help='output folder (default: work_dirs/<timestamp>_<config name>)')
    p.add_argument('--seed', type=int, help='random seed (default: the config\'s randomness.seed)')
    p.add_argument('--deterministic', action='store_true', help='deterministic algorithms (slower)')
    p.add_argument('--resume', nargs='?', const='last', metavar='auto',
                   help="continue the run in --work-dir from its latest complete checkpoint; '--resume auto' "
                        'starts afresh (and says so) when there is none')
    p.add_argument('--load-part', nargs='+', metavar='PREFIX',
                   help="with load_from: load only the weights under these key prefixes, e.g. 'backbone.' "
                        '(the log lists what was and was not loaded); default: the whole model, strictly')
    p.add_argument('--max-iters', type=int, metavar='N',
                   help="train N iterations, scaling the config's LR schedule (end, warm-up) and its checkpoint "
                        'and validation intervals by N / train_cfg.max_iters')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override existing config entries (a typo is refused), e.g. model.test_cfg.mode=slide; '
                        'values: numbers, True/False/None, strings, [a,b], (a,b), dict(k=v, ...)')
    p.add_argument('--cfg-add', nargs='+', default=[], metavar='KEY=VALUE',
                   help='set config entries that may be new, e.g. default_hooks.checkpoint.save_best=mIoU')
    p.add_argument('--vis', nargs='+', choices=['tensorboard', 'wandb', 'mlflow'], metavar='TRACKER',
                   help='also log to tensorboard, wandb and/or mlflow (offline by default; see daseg.engine.tracking)')
    p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                   help="'pytorch' under torchrun for several GPUs (tools/dist_train.sh)")
    p.add_argument('--sync-bn', action='store_true',
                   help='with --launcher pytorch: BatchNorm statistics over all processes (torch SyncBatchNorm)')
    p.add_argument('--scale-lr', action='store_true',
                   help='multiply the learning rate by the number of processes (linear scaling rule; the '
                        "config's batch_size is the reference); off by default")
    p.add_argument('--select-on-target-val', action='store_true',
                   help='multi-stage methods (a config with stages=...): validate every checkpoint interval on the '
                        "target's labelled val set and continue from each stage's best checkpoint, as the "
                        'original union-set code does. This uses target labels; the results say so. Default: '
                        "each stage's last iteration")
    add_speed_arguments(p)
    args = p.parse_args(argv)
    if args.config and args.config_option and args.config != args.config_option:
        p.error(f'two configs given: {args.config} and --config {args.config_option}')
    args.config = args.config or args.config_option
    if not args.config:
        p.error('a config is required: run_experiments.py CONFIG [options]')
    return args


def default_work_dir(config_path: str, launcher: str = 'none') -> str:
    from daseg.errors import UserError
    name = osp.splitext(osp.basename(config_path))[0]
    # All processes of a distributed run must agree on the folder; tools/dist_train.sh sets their timestamp.
    stamp = os.environ.get('DASEG_RUN_TIMESTAMP')
    if stamp is None and launcher != 'none':
        raise UserError('--launcher pytorch needs --work-dir (tools/dist_train.sh chooses one by itself)')
    return osp.join('work_dirs', f'{stamp or time.strftime("%y%m%d_%H%M%S")}_{name}')


def has_checkpoint(work_dir: str) -> bool:
    return bool(glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth'))) \
        or osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def prepare_config(args):
    from daseg.cli import load_config
    from daseg.engine.schedule_length import schedule_mismatch, set_max_iters
    from daseg.engine.speed import configure_speed
    from daseg.engine.tracking import configure_tracking
    from daseg.errors import UserError
    cfg = load_config(args.config, args.cfg_options, args.cfg_add)
    if args.max_iters is not None:
        set_max_iters(cfg, args.max_iters)
    mismatch = schedule_mismatch(cfg)
    if mismatch:
        print(mismatch)
    cfg.launcher = args.launcher
    compile_options = dict(mode=args.compile_mode) if args.compile_mode else args.compile
    configure_speed(cfg, amp=args.amp, channels_last=args.channels_last, compile=compile_options,
                    checkpoint_blocks=args.checkpoint_blocks, tf32=args.tf32)
    configure_tracking(cfg, args.vis)
    if args.sync_bn:
        if args.launcher == 'none':
            raise UserError('--sync-bn needs --launcher pytorch (several processes)')
        cfg.sync_bn = 'torch'  # mmengine converts every BatchNorm before wrapping the model
    if args.scale_lr:
        # mmengine's rule: lr x (processes x batch_size) / base_batch_size, applied when training starts.
        cfg.auto_scale_lr = dict(enable=True, base_batch_size=cfg.train_dataloader.batch_size)
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.resume not in (None, 'last', 'auto'):
        raise UserError(f"--resume takes no value or 'auto', got {args.resume!r}")
    if args.resume and not args.work_dir:
        raise UserError('--resume needs --work-dir: the folder of the run to continue')
    if args.resume == 'last' and not osp.isdir(args.work_dir):
        raise UserError(f'nothing to resume: {args.work_dir} does not exist')
    if args.load_part:
        if not cfg.get('load_from'):
            raise UserError('--load-part needs load_from (--cfg-options load_from=CHECKPOINT)')
        cfg.load_from_part = list(args.load_part)
    cfg.work_dir = args.work_dir or default_work_dir(args.config, args.launcher)
    return cfg


def choose_start(args, cfg, main_process=True):
    """Resume from the work dir's latest complete checkpoint, or start afresh; say which. Call it while
    holding the work dir: the main process first removes the partial files of interrupted saves."""
    from daseg.errors import UserError
    from daseg.weights.io import find_latest_checkpoint, remove_partial_checkpoints
    removed = remove_partial_checkpoints(cfg.work_dir) if main_process else []
    if removed:
        print(f'removed {len(removed)} partial file(s) of an interrupted save: '
              + ', '.join(osp.basename(p) for p in removed))
    if args.resume:
        try:
            latest = find_latest_checkpoint(cfg.work_dir)
        except UserError as exc:
            if args.resume != 'auto':
                raise UserError(f'nothing to resume: {exc}') from None
            print(f'--resume auto: no checkpoint in {cfg.work_dir}, starting at iteration 0')
            return
        # Explicitly the work dir's checkpoint: mmengine would otherwise resume from a config's load_from.
        cfg.resume, cfg.load_from = True, latest
        print(f'resuming from {latest}')
    elif has_checkpoint(cfg.work_dir):
        raise UserError(f'{cfg.work_dir} already holds a training run; add --resume to continue it '
                        'or choose another --work-dir')


def main(argv=None):
    train(parse_args(argv))


def run_stages(args, cfg):
    """A multi-stage method (a config with ``stages``): every stage in a sub-folder of the work dir, the ones
    that are done skipped, an interrupted one continued (see daseg.pipelines)."""
    from mmengine.registry import init_default_scope

    from daseg.pipelines import build_stages, run_pipeline
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # torchrun's variables: every process walks the stages, the main one writes (see daseg.pipelines.runner).
    distributed = args.launcher != 'none'
    rank = int(os.environ.get('RANK', '0')) if distributed else 0
    world_size = int(os.environ.get('WORLD_SIZE', '1')) if distributed else 1
    run_pipeline(cfg.work_dir, build_stages(cfg, args.select_on_target_val), resume=bool(args.resume),
                 rank=rank, world_size=world_size)


def train(args):
    from mmengine.registry import RUNNERS

    from daseg.errors import UserError
    from daseg.locks import folder_lock
    cfg = prepare_config(args)
    if cfg.get('stages'):
        run_stages(args, cfg)
        print(f'done: {cfg.work_dir}')
        return
    if args.select_on_target_val:
        raise UserError('--select-on-target-val is for multi-stage methods (a config with stages=...)')
    # One training per work dir; the other processes of a distributed run share rank 0's.
    main_process = int(os.environ.get('RANK', '0')) == 0
    with folder_lock(cfg.work_dir, 'training') if main_process else contextlib.nullcontext():
        choose_start(args, cfg, main_process)
        runner = RUNNERS.build(cfg)
        runner.train()
    print(f'done: {cfg.work_dir}')


if __name__ == '__main__':
    ARGS = parse_args()  # --help and usage errors answer before the package loads
    from daseg.cli import run_main
    run_main(lambda: train(ARGS))
