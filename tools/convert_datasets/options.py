"""The options the converter scripts share, built without importing the package (so --help answers at once)."""
import argparse
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
