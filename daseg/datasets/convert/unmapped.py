"""Label values a converter has no mapping for (e.g. 200 in a GTA label): counted, reported in one line, and an
error with ``--strict``. Such values become 255 (ignored) like the void classes, which are known ids mapped to
255 on purpose and not reported."""
from typing import NamedTuple

import numpy as np

from ...errors import UserError


class Unmapped(NamedTuple):
    """The unmapped values of one label file.

    Args:
        file (str): the raw label file.
        pixels (dict): value (as shown in messages) -> number of pixels, only values outside the format's ids.
    """

    file: str
    pixels: dict


def _values(pixels, n=5):
    shown = ', '.join(f'{v} ({c} px)' for v, c in sorted(pixels.items())[:n])
    return shown + (', ...' if len(pixels) > n else '')


def _value_counts(ids):
    """The distinct values of ``ids`` and their pixel counts."""
    if ids.size and int(ids.max()) >= 1 << 16:  # packed colours: a bincount would span 2 ** 24 bins
        return np.unique(ids, return_counts=True)
    counts = np.bincount(ids.ravel())
    values = np.flatnonzero(counts)
    return values, counts[values]


def find_unmapped(path, ids, known, strict=False, show=int, expected=None):
    """The values of ``ids`` outside ``known``.

    Args:
        path (str): the raw label file, for the messages.
        ids (np.ndarray): its raw ids (or colours packed into integers).
        known (Collection[int]): every id of the raw format (mapped or deliberately void).
        strict (bool): raise on the first file with unmapped values instead of returning them.
        show (Callable): how a value is written in the messages (e.g. a colour as '#rrggbb').
        expected (str, optional): what the values should be, for the --strict message; default
            'ids MIN..MAX' of ``known``.

    Returns:
        Unmapped | None: None when every value is known.
    """
    pixels = {show(int(v)): int(c) for v, c in zip(*_value_counts(ids)) if int(v) not in known}
    if not pixels:
        return None
    if strict:
        raise UserError(f"label '{path}' holds values without a trainId mapping: {_values(pixels)}; expected "
                        f'{expected or f"ids {min(known)}..{max(known)}"} (--strict)')
    return Unmapped(path, pixels)


def report_unmapped(found):
    """Print one line about the unmapped values of all files (in task order), or nothing.

    Args:
        found (list[Unmapped | None]): :func:`find_unmapped` of each file.
    """
    found = [u for u in found if u is not None]
    if not found:
        return
    total = {}
    for u in found:
        for value, count in u.pixels.items():
            total[value] = total.get(value, 0) + count
    print(f'warning: {sum(total.values())} pixels in {len(found)} labels hold values without a trainId mapping '
          f"and became 255 (ignored): {_values(total)}; first in '{found[0].file}'; --strict stops instead")
