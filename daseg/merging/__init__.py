"""Training-free merging of per-target checkpoints (parameters, BatchNorm statistics, permutation alignment)."""
from .merger import merge_checkpoints

__all__ = ['merge_checkpoints']
