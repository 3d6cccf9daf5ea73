"""Dark Zurich layout check and statistics of a labelled train split (daseg.datasets.convert.dark_zurich; --help)."""
import sys

from daseg.datasets.convert.dark_zurich import main

if __name__ == '__main__':
    sys.exit(main())
