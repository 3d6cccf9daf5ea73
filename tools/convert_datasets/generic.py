"""One's own dataset: raw label ids or colours -> trainIds via a label map, and rare-class-sampling statistics
(daseg.datasets.convert.generic; --help)."""
import sys

from daseg.datasets.convert.generic import main

if __name__ == '__main__':
    sys.exit(main())
