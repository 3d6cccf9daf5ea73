from .mit import MiT
from .resnet import CheckedResNetV1c

__all__ = ['CheckedResNetV1c', 'MiT']
