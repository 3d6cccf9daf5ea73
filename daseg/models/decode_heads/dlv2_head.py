"""DeepLabV2 decode head: parallel dilated 3x3 convolutions straight to the class logits, summed.

Parameter names match the original (``aspp_modules.{j}.conv.{weight,bias}``, no ``conv_seg``), so released
DeepLabV2 / HRDA-DeepLabV2 checkpoints load without renaming. ``dilations=(6, 12)`` is the ``dlv2red`` variant
that AdaptSegNet-based UDA work uses (an early ``return`` inside its loop over the four rates).
"""
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from daseg.errors import UserError
from .label_loss import LabelLossMixin

# BaseDecodeHead arguments that DeepLabV2 fixes: its convs map features to logits directly, so there is no
# intermediate width, no dropout before a classifier and no norm.
_FIXED = dict(channels=1, dropout_ratio=0, norm_cfg=None)


@MODELS.register_module()
class DLV2Head(LabelLossMixin, BaseDecodeHead):
    """The DeepLabV2 ASPP classifier (Chen et al., TPAMI 2018) as used by DAFormer/HRDA.

    Args:
        dilations (Sequence[int]): one 3x3 conv per rate. Default (6, 12, 18, 24).
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels`` int, ``in_index`` int, ``num_classes``,
            ``align_corners``, ``loss_decode``, ``init_cfg``...). ``channels``, ``dropout_ratio`` and ``norm_cfg``
            may be omitted; if given they must be 1, 0 and None.

    Inputs: the backbone's list of maps; the one at ``in_index`` is (B, in_channels, H, W). Output logits
    (B, out_channels, H, W): the sum over rates d of conv3x3(x, dilation=d, padding=d) + bias_d.
    """

    def __init__(self, dilations=(6, 12, 18, 24), **kwargs):
        for name, value in _FIXED.items():
            if kwargs.get(name, value) != value:
                raise UserError(f'DLV2Head: {name} is fixed to {value} (the convs output the logits), '
                                f'got {kwargs[name]!r}; remove it from decode_head')
            kwargs[name] = value
        for name, default in (('in_channels', None), ('in_index', -1)):
            if not isinstance(kwargs.get(name, default), int):
                raise UserError(f'DLV2Head: {name} must be one int (the head reads one backbone map), '
                                f'got {kwargs.get(name)!r}')
        if (not isinstance(dilations, (list, tuple)) or not dilations
                or not all(isinstance(d, int) and d > 0 for d in dilations)):
            raise UserError(f'DLV2Head: dilations must be a non-empty list of positive ints, got {dilations!r}')
        # As the original config: the logit convs start from N(0, 0.01) with zero bias, like any classifier here.
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, bias=0, layer='Conv2d'))
        super().__init__(**kwargs)
        del self.conv_seg
        self.dilations = tuple(dilations)
        self.aspp_modules = nn.ModuleList(
            ConvModule(self.in_channels, self.out_channels, 3, padding=d, dilation=d, conv_cfg=self.conv_cfg,
                       norm_cfg=None, act_cfg=None)
            for d in self.dilations)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        if x.shape[1] != self.in_channels:
            raise UserError(f'DLV2Head: backbone output {self.in_index} has {x.shape[1]} channels but '
                            f'decode_head.in_channels says {self.in_channels}')
        out = self.aspp_modules[0](x)
        for conv in self.aspp_modules[1:]:
            out = out + conv(x)
        return out
