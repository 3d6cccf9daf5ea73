"""Cityscapes labelIds -> trainIds and rare-class-sampling statistics."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import add_strict_option, converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `cityscapes.py DATA_ROOT [--nproc N] [--strict]`; returns the exit status."""
    parser = converter_parser('Convert Cityscapes labelIds to trainIds (*_gtFine_labelTrainIds.png) and write '
                              'rare-class-sampling statistics of gtFine/train at DATA_ROOT.')
    parser.add_argument('data_root', help='Cityscapes root containing leftImg8bit/ and gtFine/')
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.cityscapes import convert_cityscapes
    return run_cli(lambda a: convert_cityscapes(a.data_root, a.nproc, a.strict), args)


if __name__ == '__main__':
    sys.exit(main())
