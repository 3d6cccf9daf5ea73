"""GTA5 labels -> trainIds and rare-class-sampling statistics."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import add_split_option, add_strict_option, converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `gta.py DATA_ROOT [--split-file FILE] [--nproc N] [--strict]`; returns the exit status."""
    parser = converter_parser('Convert GTA5 labels to Cityscapes trainIds (labels/<n>_labelTrainIds.png) and '
                              'write rare-class-sampling statistics at DATA_ROOT.')
    parser.add_argument('data_root', help='GTA root containing images/ and labels/')
    add_split_option(parser)
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.gta import convert_gta
    return run_cli(lambda a: convert_gta(a.data_root, a.nproc, a.split_file, a.strict), args)


if __name__ == '__main__':
    sys.exit(main())
