"""GTA5 labels -> trainIds and rare-class-sampling statistics (daseg.datasets.convert.gta; --help)."""
import sys

from daseg.datasets.convert.gta import main

if __name__ == '__main__':
    sys.exit(main())
