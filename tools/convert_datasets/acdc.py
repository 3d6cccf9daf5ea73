"""ACDC layout check and statistics of its labelled train splits."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `acdc.py DATA_ROOT [--nproc N]`; returns the exit status."""
    parser = converter_parser('Check the ACDC layout (every image has its label where labels exist), print '
                              'counts per condition and split, and write statistics of the train splits.')
    parser.add_argument('data_root', help='ACDC root containing rgb_anon/ and gt/')
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.acdc import check_acdc
    return run_cli(lambda a: check_acdc(a.data_root, a.nproc), args)


if __name__ == '__main__':
    sys.exit(main())
