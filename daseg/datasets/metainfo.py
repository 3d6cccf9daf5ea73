"""Metainfo of the datasets here: all are labelled in (or evaluated on) the 19 Cityscapes classes."""
from ..classes import CLASSES, PALETTE

CITYSCAPES_METAINFO = dict(classes=CLASSES, palette=[list(color) for color in PALETTE])
