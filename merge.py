#!/usr/bin/env python
"""Merge N per-target checkpoints into one model that serves every target, without any data.

    python merge.py cs.pth idd.pth --out merged.pth
    python merge.py cs.pth idd.pth acdc.pth --weights 0.5 0.25 0.25 --buffers gaussian-weighted --out m.pth
    python merge.py cs_r101.pth idd_r101.pth --params rebasin --out m.pth
    python merge.py cs.pth idd.pth --sep-heads --out merged.pth     # merged_head1.pth, merged_head2.pth
    python merge.py cs.pth idd.pth acdc.pth dz.pth --params ties --base source_only.pth --out m.pth

Parameters are averaged with the weights (default 1/N), or merged from their task vectors theta_k - theta_base
(task-arithmetic, ties, dare). BatchNorm statistics are merged as a mixture of Gaussians weighted by each
input's num_batches_tracked (--buffers gaussian), or by the weights (gaussian-weighted), or averaged (mean), or
taken from the first input (first); --recalibrate-bn instead re-estimates them on unlabelled target images
(this uses data). Then evaluate with ./test.sh CONFIG merged.pth --targets ...
"""
import argparse
import os.path as osp
import shlex
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

# The merge rules' names, as daseg.merging defines them (tests/test_entry_help.py keeps the two equal): the
# parser is built without importing the package (torch, mmseg), so that --help answers at once.
PARAM_MODES = ('linear', 'rebasin', 'task-arithmetic', 'ties', 'dare')
BUFFER_MODES = ('gaussian', 'gaussian-weighted', 'mean', 'first')
MERGED_SUB_MODELS = ('student', 'teacher', 'all')
IMAGENET_BASE = 'imagenet'
DEFAULTS = {'task-arithmetic': {'scaling': 0.4}, 'ties': {'scaling': 1.0, 'density': 0.2},
            'dare': {'scaling': 0.4, 'drop': 0.9, 'seed': 0}}
# Model-Merging-MTDA's merge.py flags, accepted as deprecated aliases.
LEGACY_MODES = {'liner_merge': 'linear', 'git_rebasin': 'rebasin'}
LEGACY_EPILOG = ("Model-Merging-MTDA's flags (--model_num, --model_1 .. --model_4, --merge_mode "
                 'liner_merge|git_rebasin, --weight, --sep_head, --merge_buffer, --save_name) are deprecated '
                 'aliases: they run the same merge and print it in the flags above.')


def add_merge_arguments(p, config_option=True):
    """Add --params, the task-vector options, --buffers, --which and the BatchNorm recalibration options
    (interpreted by :mod:`daseg.merging.arguments`).

    Args:
        p (argparse.ArgumentParser): the parser.
        config_option (bool): add ``--config`` (tools that take a config anyway use theirs).
    """
    p.add_argument('--params', choices=PARAM_MODES, default='linear',
                   help='linear: weighted average; rebasin: align ResNet channels by weight matching first; '
                        'task-arithmetic, ties, dare: merge the task vectors theta_k - theta_base (need --base)')
    tv = p.add_argument_group('task-vector rules')
    tv.add_argument('--base', metavar='CKPT|imagenet',
                    help='the initialisation shared by the inputs: a checkpoint (its student), or '
                         f'{IMAGENET_BASE}: the ImageNet model (imnet_model.*) inside the UDA inputs, identical in all')
    tv.add_argument('--scaling', type=float, metavar='LAMBDA',
                    help='theta_base + LAMBDA * merged task vector (default: task-arithmetic '
                         f"{DEFAULTS['task-arithmetic']['scaling']}, ties {DEFAULTS['ties']['scaling']}, "
                         f"dare {DEFAULTS['dare']['scaling']})")
    tv.add_argument('--density', type=float,
                    help=f"ties: share of each task vector kept by magnitude (default {DEFAULTS['ties']['density']})")
    tv.add_argument('--drop', type=float, metavar='P',
                    help=f"dare: drop probability of each entry (default {DEFAULTS['dare']['drop']})")
    tv.add_argument('--seed', type=int, help=f"dare: seed of the drop masks (default {DEFAULTS['dare']['seed']})")
    p.add_argument('--buffers', choices=BUFFER_MODES, default='gaussian', help='BatchNorm statistics rule')
    p.add_argument('--which', choices=MERGED_SUB_MODELS, default='student',
                   help='sub-models of UDA checkpoints to merge; the others are copied from the first input')
    data = p.add_argument_group('optional step that uses target images (never labels); off by default')
    data.add_argument('--recalibrate-bn', nargs='+', metavar='DIR',
                      help='re-estimate the BatchNorm statistics of the merged model on the images under DIR')
    data.add_argument('--recalibrate-images', type=int, metavar='N', help='at most N images of each DIR')
    if config_option:
        data.add_argument('--config', help='with --recalibrate-bn: the config that builds the model and its test '
                                           'preprocessing')


def legacy_parser():
    p = argparse.ArgumentParser(prog='merge.py', usage=argparse.SUPPRESS, add_help=False, allow_abbrev=False)
    p.add_argument('--model_num', type=int, choices=(2, 3, 4))
    for k in range(1, 5):
        p.add_argument(f'--model_{k}')
    p.add_argument('--merge_mode', choices=list(LEGACY_MODES))
    p.add_argument('--weight', type=float)
    p.add_argument('--sep_head', action='store_true', default=None)
    p.add_argument('--merge_buffer', action='store_true', default=None)
    p.add_argument('--save_name')
    return p


def translate_legacy(argv):
    """``argv`` with Model-Merging-MTDA's merge.py flags replaced by this merge.py's (the same merge), and a
    deprecation line on stderr that shows the new command; ``argv`` itself when it holds none of them.

    The original merges the students' parameters (``w * theta_1 + (1 - w) * theta_2`` for two models, ``w * sum``
    for three or four, ``w`` = ``--weight``, default 1/N), copies the rest from model 1, and merges the students'
    BatchNorm statistics as a Gaussian mixture weighted by ``num_batches_tracked`` only with ``--merge_buffer``
    (else they are model 1's): ``--params linear|rebasin``, ``--buffers gaussian|first``.
    """
    p = legacy_parser()
    old, rest = p.parse_known_args(argv)
    if all(value is None for value in vars(old).values()):
        return argv
    n = old.model_num or 2
    models = [getattr(old, f'model_{k}') for k in range(1, 5)]
    if (any(models) or old.model_num) and (not all(models[:n]) or any(models[n:])):
        p.error(f'--model_num {n} needs --model_1 .. --model_{n} (and no more)')
    models = [m for m in models if m]  # none: the inputs are given as CKPT (the flags mixed)
    given = {arg.split('=')[0] for arg in rest}
    for legacy, flag in (('merge_mode', '--params'), ('merge_buffer', '--buffers'), ('weight', '--weights'),
                         ('sep_head', '--sep-heads'), ('save_name', '--out')):
        if getattr(old, legacy) is not None and flag in given:
            p.error(f'--{legacy} and {flag} set the same option; give one of them')
    new = [] if '--params' in given else ['--params', LEGACY_MODES[old.merge_mode or 'liner_merge']]
    if '--buffers' not in given:
        new += ['--buffers', 'gaussian' if old.merge_buffer else 'first']
    if old.weight is not None and old.weight != -1:  # -1: the original's "1/N each"
        new += ['--weights', *map(repr, [old.weight, 1 - old.weight] if n == 2 else [old.weight] * n)]
    if old.sep_head:
        new.append('--sep-heads')
    if old.save_name:
        new += ['--out', old.save_name]
    translated = models + rest + new
    print("merge.py: Model-Merging-MTDA's flags are deprecated; the same merge: "
          + shlex.join(['python', 'merge.py', *translated]), file=sys.stderr)
    return translated


def parse_args(argv=None):
    argv = translate_legacy(sys.argv[1:] if argv is None else list(argv))
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog=LEGACY_EPILOG)
    p.add_argument('checkpoints', nargs='+', metavar='CKPT', help='two or more checkpoints of one architecture')
    p.add_argument('--out', required=True, help='output checkpoint (with --sep-heads: <stem>_head<k>.pth)')
    p.add_argument('--weights', nargs='+', type=float, metavar='W',
                   help='one weight per checkpoint, non-negative, summing to 1 (default 1/N each)')
    p.add_argument('--sep-heads', action='store_true',
                   help="one output per input: the merged model with that input's own decode head")
    p.add_argument('--force', action='store_true', help='replace existing output files')
    p.add_argument('--allow-duplicates', action='store_true',
                   help='accept an input given twice (the same file or the same content)')
    add_merge_arguments(p)
    return p.parse_args(argv)


def recalibrator(args, config):
    """The BatchNorm recalibration asked for (None without --recalibrate-bn), built before any merging so that
    a bad config or image folder stops at once."""
    from daseg.cli import load_config, segmentor_config
    from daseg.merging.arguments import wants_recalibration
    from daseg.merging.recalibrate import Recalibrator, test_pipeline
    if not wants_recalibration(args, config):
        return None
    cfg = load_config(config)
    return Recalibrator(segmentor_config(cfg), test_pipeline(cfg), args.recalibrate_bn, args.recalibrate_images,
                        scope=cfg.get('default_scope', 'mmseg'))


def main(argv=None):
    return merge(parse_args(argv))


def merge(args):
    from daseg.merging.arguments import merge_kwargs
    from daseg.merging.merger import merge_checkpoints
    return merge_checkpoints(args.checkpoints, args.out, weights=args.weights, sep_heads=args.sep_heads,
                             force=args.force, allow_duplicates=args.allow_duplicates,
                             recalibrate=recalibrator(args, args.config), **merge_kwargs(args))


if __name__ == '__main__':
    ARGS = parse_args()  # --help, usage errors and the deprecation line come before the package loads
    from daseg.cli import run_main
    run_main(lambda: merge(ARGS))
