"""Models registered into mmseg's MODELS registry on import."""
from . import backbones, decode_heads, segmentors, uda, unionset  # noqa: F401  (registration side effects)
