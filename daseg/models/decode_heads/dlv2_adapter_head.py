"""DDB's DeepLabV2 head with an adapter: dilated 3x3 branches concatenated, a 3x3 bottleneck, then the classifier.

The bottleneck output (after dropout) is the feature DDB's class prototypes are computed on, so the head also
returns it (:meth:`DLV2AdapterHead.forward_with_features`). Module names give the state dict keys of DDB's
mmseg-0.x checkpoints (mmcv's ``ConvModule`` names its convolution ``conv`` and its BatchNorm or SyncBN ``bn``):
``aspp_modules.{i}.conv.weight``, ``aspp_modules.{i}.bn.*``, ``bottleneck.conv.weight``, ``bottleneck.bn.*``,
``conv_seg.{weight,bias}``; the convolutions before a norm have no bias.
"""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from daseg.errors import UserError
from .label_loss import LabelLossMixin

# DDB's config: N(0, 0.01) on the branches only. mmengine's ``override`` initialises the whole sub-module, so the
# BatchNorm scales of the branches start from N(0, 0.01) too, as in the original (mmcv 1.x did the same); the
# bottleneck keeps ConvModule's own initialisation and, since the config replaces the head's default init_cfg,
# ``conv_seg`` keeps PyTorch's.
DEFAULT_INIT = dict(type='Normal', std=0.01, override=dict(name='aspp_modules'))


@MODELS.register_module()
class DLV2AdapterHead(LabelLossMixin, BaseDecodeHead):
    """ASPP branches (``channels / len(dilations)`` each, norm + activation), concatenated to ``channels``, a 3x3
    bottleneck ``channels -> channels`` (norm + activation), dropout, and the 1x1 classifier ``conv_seg``.

    Args:
        dilations (Sequence[int]): one branch per rate: a 3x3 conv with that dilation (a 1x1 conv for rate 1, as the
            original). Default (6, 12), DDB's.
        **kwargs: ``BaseDecodeHead`` arguments: ``in_channels`` (int), ``in_index`` (int), ``channels`` (a multiple
            of the number of branches), ``num_classes``, ``dropout_ratio`` (default 0.1), ``norm_cfg`` (default
            BN; DDB's SyncBN has the same keys), ``act_cfg``, ``align_corners``, ``loss_decode``, ``init_cfg``
            (default :data:`DEFAULT_INIT`).

    Inputs: the backbone's list of maps; the one at ``in_index`` is (B, in_channels, h, w). Output: logits
    (B, num_classes, h, w); :meth:`forward_with_features` also gives the features (B, channels, h, w).
    """

    def __init__(self, dilations=(6, 12), **kwargs):
        if not isinstance(kwargs.get('in_channels'), int) or not isinstance(kwargs.get('in_index', -1), int):
            raise UserError('DLV2AdapterHead reads one backbone map: in_channels and in_index must be ints, got '
                            f'{kwargs.get("in_channels")!r} and {kwargs.get("in_index", -1)!r}')
        if not dilations or not all(isinstance(d, int) and d > 0 for d in dilations):
            raise UserError(f'DLV2AdapterHead: dilations must be positive ints, got {dilations!r}')
        if kwargs.get('channels', 0) % len(dilations):
            raise UserError(f'DLV2AdapterHead: channels ({kwargs.get("channels")}) must be a multiple of the '
                            f'{len(dilations)} branches (each gets channels / {len(dilations)})')
        kwargs.setdefault('norm_cfg', dict(type='BN', requires_grad=True))
        kwargs.setdefault('init_cfg', DEFAULT_INIT)
        super().__init__(**kwargs)
        self.dilations = tuple(dilations)
        branch = self.channels // len(self.dilations)
        self.aspp_modules = nn.ModuleList(
            ConvModule(self.in_channels, branch, 1 if d == 1 else 3, padding=0 if d == 1 else d, dilation=d,
                       conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for d in self.dilations)
        self.bottleneck = ConvModule(self.channels, self.channels, 3, padding=1, conv_cfg=self.conv_cfg,
                                     norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def forward_with_features(self, inputs):
        """Logits and the bottleneck features after dropout.

        Args:
            inputs (list[Tensor]): the backbone's maps.

        Returns:
            tuple[Tensor, Tensor]: logits (B, num_classes, h, w) and features (B, channels, h, w).
        """
        x = self._transform_inputs(inputs)
        if x.shape[1] != self.in_channels:
            raise UserError(f'DLV2AdapterHead: backbone output {self.in_index} has {x.shape[1]} channels but '
                            f'decode_head.in_channels says {self.in_channels}')
        features = self.bottleneck(torch.cat([branch(x) for branch in self.aspp_modules], dim=1))
        if self.dropout is not None:
            features = self.dropout(features)
        return self.conv_seg(features), features

    def forward(self, inputs):
        return self.forward_with_features(inputs)[0]
