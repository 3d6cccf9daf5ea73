"""IDD after its toolkit -> Cityscapes-like layout with trainId labels."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import add_strict_option, converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `idd.py RAW_ROOT OUT_ROOT [--resize W H] [--nproc N] [--strict]`; returns the exit status."""
    parser = converter_parser('Convert IDD (after its toolkit) to the Cityscapes-like layout read by '
                              'IDDDataset: PNG images and *_gtFine_labelTrainIds.png labels.')
    parser.add_argument('raw_root', help='IDD root with leftImg8bit/ and gtFine/*_labelcsTrainIds.png')
    parser.add_argument('out_root', help='output root')
    parser.add_argument('--resize', nargs=2, type=int, metavar=('W', 'H'),
                        help='resize every frame, e.g. 1920 1080 (nearest for labels)')
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.idd import convert_idd
    size = tuple(args.resize) if args.resize else None
    return run_cli(lambda a: convert_idd(a.raw_root, a.out_root, a.nproc, size, a.strict), args)


if __name__ == '__main__':
    sys.exit(main())
