"""Cityscapes labelIds -> trainIds and rare-class-sampling statistics (daseg.datasets.convert.cityscapes; --help)."""
import sys

from daseg.datasets.convert.cityscapes import main

if __name__ == '__main__':
    sys.exit(main())
