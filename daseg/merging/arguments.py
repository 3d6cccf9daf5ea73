"""Command-line options of the merge rules, shared by merge.py and tools/merge_table.py."""
from ..errors import UserError
from .buffers import BUFFER_MODES
from .merger import MERGED_SUB_MODELS
from .rules import DEFAULTS, IMAGENET_BASE, PARAM_MODES


def add_merge_arguments(p, config_option=True):
    """Add --params, the task-vector options, --buffers, --which and the BatchNorm recalibration options.

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
    p.add_argument('--which', choices=list(MERGED_SUB_MODELS), default='student',
                   help='sub-models of UDA checkpoints to merge; the others are copied from the first input')
    data = p.add_argument_group('optional step that uses target images (never labels); off by default')
    data.add_argument('--recalibrate-bn', nargs='+', metavar='DIR',
                      help='re-estimate the BatchNorm statistics of the merged model on the images under DIR')
    data.add_argument('--recalibrate-images', type=int, metavar='N', help='at most N images of each DIR')
    if config_option:
        data.add_argument('--config', help='with --recalibrate-bn: the config that builds the model and its test '
                                           'preprocessing')


def merge_kwargs(args):
    """The keyword arguments of :func:`daseg.merging.merge_checkpoints` from the rule options above."""
    return dict(params=args.params, buffers=args.buffers, which=args.which, base=args.base, scaling=args.scaling,
                density=args.density, drop=args.drop, seed=args.seed)


def wants_recalibration(args, config):
    """Whether the BatchNorm recalibration is asked for, its options checked (``config``: the config given)."""
    if args.recalibrate_bn and not config:
        raise UserError('--recalibrate-bn needs --config: the config that builds the model and its test '
                        'preprocessing')
    if not args.recalibrate_bn and (config or args.recalibrate_images is not None):
        raise UserError(f'{"--config" if config else "--recalibrate-images"} applies to --recalibrate-bn only')
    if args.recalibrate_images is not None and args.recalibrate_images < 1:
        raise UserError(f'--recalibrate-images must be 1 or more, got {args.recalibrate_images}')
    return bool(args.recalibrate_bn)
