"""The command-line options of the merge rules, as merge.py's ``add_merge_arguments`` defines them (there,
without importing the package, so that ``--help`` is fast), interpreted for merge.py and tools/merge_table.py."""
from ..errors import UserError


def merge_kwargs(args):
    """The keyword arguments of :func:`daseg.merging.merge_checkpoints` from the rule options."""
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
