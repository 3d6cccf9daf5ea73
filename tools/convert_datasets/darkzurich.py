"""Dark Zurich layout check and statistics of a labelled train split."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `darkzurich.py DATA_ROOT [--nproc N]`; returns the exit status."""
    parser = converter_parser('Check the Dark Zurich layout (every image has its label where labels exist), '
                              'print counts per split and condition, and write statistics of a labelled train '
                              'split.')
    parser.add_argument('data_root', help='Dark Zurich root containing rgb_anon/ and gt/')
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.dark_zurich import check_dark_zurich
    return run_cli(lambda a: check_dark_zurich(a.data_root, a.nproc), args)


if __name__ == '__main__':
    sys.exit(main())
