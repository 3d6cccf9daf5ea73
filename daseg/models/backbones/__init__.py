from .mit import MiT

__all__ = ['MiT']
