"""Synthetic demo domains: procedural street scenes written in the real datasets' own raw formats."""
from .domains import DOMAINS, select_domains
from .generate import generate

__all__ = ['DOMAINS', 'generate', 'select_domains']
