"""Models registered into mmseg's MODELS registry on import."""
from . import backbones, decode_heads, uda  # noqa: F401  (registration side effects)
