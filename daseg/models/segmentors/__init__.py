"""Segmentors registered into mmseg's MODELS registry on import."""
from .hrda_encoder_decoder import HRDAEncoderDecoder

__all__ = ['HRDAEncoderDecoder']
