"""Segmentors registered into mmseg's MODELS registry on import."""
from .uda_encoder_decoder import UDAEncoderDecoder, stacked_labels
from .hrda_encoder_decoder import HRDAEncoderDecoder

__all__ = ['UDAEncoderDecoder', 'HRDAEncoderDecoder', 'stacked_labels']
