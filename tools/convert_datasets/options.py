"""The options the converter scripts share, built without importing the package (so --help answers at once)."""
import argparse
import importlib
import os


def converter_parser(description):
    """Return an argument parser with the common `--nproc` option.

    Args:
        description (str): What the converter does, shown by --help.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--nproc', type=int, default=min(4, os.cpu_count() or 1),
                        help='worker processes (default: %(default)s)')
    return parser


def add_strict_option(parser):
    """Add `--strict`: a label value without a trainId mapping stops the conversion (else it is reported)."""
    parser.add_argument('--strict', action='store_true',
                        help='stop at a label value without a trainId mapping (default: report it, map it to 255)')


def add_split_option(parser):
    """Add `--split-file`: the training stems, the labels the rare-class-sampling statistics count."""
    parser.add_argument('--split-file', help='training stems, one per line, relative to DATA_ROOT; default: '
                                             'all labels')


def run_source_converter(argv, description, root_help, dataset):
    """The command line of a synthetic source's converter: `DATA_ROOT [--split-file FILE] [--nproc N] [--strict]`.

    Args:
        argv (list[str] | None): the arguments (default: sys.argv).
        description (str): what it converts, shown by --help.
        root_help (str): what DATA_ROOT holds.
        dataset (str): the converter, `convert_<dataset>` in `daseg.datasets.convert.<dataset>`.

    Returns:
        int: the exit status.
    """
    parser = converter_parser(description)
    parser.add_argument('data_root', help=root_help)
    add_split_option(parser)
    add_strict_option(parser)
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    convert = getattr(importlib.import_module(f'daseg.datasets.convert.{dataset}'), f'convert_{dataset}')
    return run_cli(lambda a: convert(a.data_root, a.nproc, a.split_file, a.strict), args)
