"""ACDC layout check and statistics of its labelled train splits (daseg.datasets.convert.acdc; --help)."""
import sys

from daseg.datasets.convert.acdc import main

if __name__ == '__main__':
    sys.exit(main())
