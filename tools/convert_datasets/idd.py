"""IDD after its toolkit -> Cityscapes-like layout with trainId labels (daseg.datasets.convert.idd; --help)."""
import sys

from daseg.datasets.convert.idd import main

if __name__ == '__main__':
    sys.exit(main())
