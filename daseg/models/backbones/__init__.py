from .convnext import ConvNeXt
from .deeplab_resnet import DeepLabResNet
from .mit import MiT
from .resnet import CheckedResNetV1c
from .swin import CheckedSwinTransformer
from .vit import CheckedBEiT, CheckedMAE

__all__ = ['CheckedBEiT', 'CheckedMAE', 'CheckedResNetV1c', 'CheckedSwinTransformer', 'ConvNeXt', 'DeepLabResNet',
           'MiT']
