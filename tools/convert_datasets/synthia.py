"""SYNTHIA labels -> trainIds and rare-class-sampling statistics."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import run_source_converter  # noqa: E402


def main(argv=None):
    """Command line: `synthia.py DATA_ROOT [--split-file FILE] [--nproc N] [--strict]`; returns the exit status."""
    return run_source_converter(argv, (
        'Convert SYNTHIA labels to Cityscapes trainIds (GT/LABELS/<n>_labelTrainIds.png) '
        'and write rare-class-sampling statistics at DATA_ROOT.'),
        'SYNTHIA root containing RGB/ and GT/LABELS/', 'synthia')


if __name__ == '__main__':
    sys.exit(main())
