"""One's own dataset: raw label ids or colours -> trainIds via a label map, and rare-class-sampling statistics."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import add_split_option, add_strict_option, converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `generic.py DATA_ROOT --label-map MAP [--label-dir DIR] [--label-suffix S] [--split-file FILE]
    [--nproc N] [--strict]`; returns the exit status."""
    parser = converter_parser('Convert the labels of one\'s own dataset to trainIds with a label map '
                              '(<stem>_labelTrainIds.png beside each raw label) and write rare-class-sampling '
                              'statistics at DATA_ROOT.')
    parser.add_argument('data_root', help='dataset root containing the label folder')
    parser.add_argument('--label-map', required=True, metavar='MAP',
                        help='JSON, YAML or CSV file: the classes (names, optional palette) and the raw ids or '
                             'colours -> trainIds (format: README, "Your own dataset")')
    parser.add_argument('--label-dir', default='labels', help='raw label folder under DATA_ROOT (default: '
                                                              '%(default)s)')
    parser.add_argument('--label-suffix', default='.png',
                        help='ending of the raw label files: <stem><suffix> -> <stem>_labelTrainIds.png (default: '
                             '%(default)s)')
    add_split_option(parser)
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.generic import convert_generic
    return run_cli(lambda a: convert_generic(a.data_root, a.label_map, a.label_dir, a.label_suffix, a.nproc,
                                             a.split_file, a.strict), args)


if __name__ == '__main__':
    sys.exit(main())
