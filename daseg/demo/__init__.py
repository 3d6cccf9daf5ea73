"""Synthetic demo domains: procedural street scenes written in the real datasets' own raw formats."""
from .domains import DOMAINS
from .generate import generate

__all__ = ['DOMAINS', 'generate']
