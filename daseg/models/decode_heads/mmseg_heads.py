"""mmseg's UPerNet head and FCN head with the package's label losses, so that a UDA wrapper can train them on
pseudo-labels (``loss_by_label``, see :mod:`.label_loss`); modules, keys and inference are mmseg's.

The user's DAFormer fork pairs Swin, BEiT and MAE encoders with ``UPerHead`` (pyramid pooling (1, 2, 3, 6) over
the last map, FPN fusion of all four) and an ``FCNHead`` on the third map as the auxiliary head (loss weight
0.4). As auxiliary head of a :class:`~daseg.models.segmentors.UDAEncoderDecoder`, the FCN head adds its losses
(prefixed ``aux.``) to every ``loss_by_label`` call: source, mixed and any other pseudo-labelled batch.
"""
from mmseg.models.decode_heads import FCNHead, UPerHead
from mmseg.registry import MODELS

from .label_loss import LabelLossMixin


@MODELS.register_module()
class UPerLabelHead(LabelLossMixin, UPerHead):
    """mmseg's ``UPerHead`` (same arguments) that trains on labels and pixel weights."""


@MODELS.register_module()
class FCNLabelHead(LabelLossMixin, FCNHead):
    """mmseg's ``FCNHead`` (same arguments) that trains on labels and pixel weights."""
