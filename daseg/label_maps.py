"""Raw dataset label ids -> Cityscapes trainIds (0..18, 255 = ignore): the one copy of these tables."""
import numpy as np

# Cityscapes labelIds (also used by GTA5, ACDC, Dark Zurich, Synscapes) -> trainIds.
CITYSCAPES_ID_TO_TRAINID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                            24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
# Every labelId (0 unlabeled .. 33 bicycle); the others of them are void classes, ignored on purpose.
CITYSCAPES_LABEL_IDS = tuple(range(34))

# SYNTHIA-RAND-CITYSCAPES class ids (channel R of its 16-bit labels) -> trainIds, DAFormer's map: all 19
# classes. Terrain (16), truck (18) and train (20) have few or no pixels in SYNTHIA, which is why results on it
# are reported on the other 16 classes (daseg.classes.SYNTHIA_16).
SYNTHIA_ID_TO_TRAINID = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12,
                         8: 13, 18: 14, 19: 15, 20: 16, 12: 17, 11: 18}
# Every SYNTHIA class id (0 void .. 22 lanemarking); void, parking-slot (13), road-work (14) and lanemarking
# (22) are ignored on purpose.
SYNTHIA_LABEL_IDS = tuple(range(23))


def to_lut(mapping, size=256):
    """Return a uint8 lookup table of `size` entries: `mapping[k]` at k, 255 everywhere else.

    Use `lut[ids]` to convert an integer id array; pass size=65536 for 16-bit ids.
    """
    lut = np.full(size, 255, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[src] = dst
    return lut
