from .convnext import ConvNeXt
from .mit import MiT
from .resnet import CheckedResNetV1c
from .swin import CheckedSwinTransformer
from .vit import CheckedBEiT, CheckedMAE

__all__ = ['CheckedBEiT', 'CheckedMAE', 'CheckedResNetV1c', 'CheckedSwinTransformer', 'ConvNeXt', 'MiT']
