"""SYNTHIA labels -> trainIds and rare-class-sampling statistics (daseg.datasets.convert.synthia; --help)."""
import sys

from daseg.datasets.convert.synthia import main

if __name__ == '__main__':
    sys.exit(main())
