"""Raw dataset label ids -> Cityscapes trainIds (0..18, 255 = ignore): the one copy of these tables."""
import numpy as np

# Cityscapes labelIds (also used by GTA5, ACDC, Dark Zurich, Synscapes) -> trainIds.
CITYSCAPES_ID_TO_TRAINID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                            24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}

# SYNTHIA-RAND-CITYSCAPES class ids (channel R of its 16-bit labels) -> trainIds; 0 is void. Synthia has
# no terrain, truck or train, so trainIds 9, 14 and 16 never occur.
SYNTHIA_ID_TO_TRAINID = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 10, 10: 11, 17: 12,
                         8: 13, 19: 15, 12: 17, 11: 18}


def to_lut(mapping, size=256):
    """Return a uint8 lookup table of `size` entries: `mapping[k]` at k, 255 everywhere else.

    Use `lut[ids]` to convert an integer id array; pass size=65536 for 16-bit ids.
    """
    lut = np.full(size, 255, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut
