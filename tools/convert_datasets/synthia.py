"""SYNTHIA labels -> trainIds and rare-class-sampling statistics."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import add_split_option, add_strict_option, converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `synthia.py DATA_ROOT [--split-file FILE] [--nproc N] [--strict]`; returns the exit status."""
    parser = converter_parser('Convert SYNTHIA labels to Cityscapes trainIds (GT/LABELS/<n>_labelTrainIds.png) '
                              'and write rare-class-sampling statistics at DATA_ROOT.')
    parser.add_argument('data_root', help='SYNTHIA root containing RGB/ and GT/LABELS/')
    add_split_option(parser)
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.synthia import convert_synthia
    return run_cli(lambda a: convert_synthia(a.data_root, a.nproc, a.split_file, a.strict), args)


if __name__ == '__main__':
    sys.exit(main())
