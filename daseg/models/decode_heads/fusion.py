"""Fusion layers of the DAFormer head: what turns the concatenated multi-level embedding into ``channels`` maps.

Module and attribute names follow the original DAFormer so that released checkpoints load unchanged
(``fuse_layer.aspp_modules.{k}...``, ``fuse_layer.bottleneck...``, ``fuse_layer.conv...``).
"""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.aspp_head import ASPPModule
from mmseg.models.decode_heads.sep_aspp_head import DepthwiseSeparableASPPModule
from mmseg.models.utils import resize

from daseg.errors import UserError


class ASPPWrapper(nn.Module):
    """Atrous spatial pyramid pooling over the fused embedding, followed by a 3x3 bottleneck conv.

    With ``sep=True`` (final DAFormer) the dilation-1 branch is a 1x1 ``ConvModule`` and every other branch a
    3x3 depthwise-separable conv; with ``sep=False`` all branches are plain (dilated) convs.

    Args:
        in_channels (int): channels of the input (B, in_channels, H, W).
        channels (int): channels of each branch and of the output (B, channels, H, W).
        sep (bool): depthwise-separable branches for dilations > 1.
        dilations (Sequence[int]): one branch per dilation.
        pool (bool): add an image-level pooling branch.
        norm_cfg (dict | None): norm of every conv.
        act_cfg (dict | None): activation of every conv.
        align_corners (bool): for upsampling the pooled branch.
        conv_cfg (dict | None): conv type of the plain convs.
    """

    def __init__(self, in_channels, channels, sep, dilations, pool, norm_cfg, act_cfg, align_corners,
                 conv_cfg=None):
        super().__init__()
        self.align_corners = align_corners
        if pool:
            self.image_pool = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
        else:
            self.image_pool = None
        aspp = DepthwiseSeparableASPPModule if sep else ASPPModule
        self.aspp_modules = aspp(dilations=dilations, in_channels=in_channels, channels=channels,
                                 conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.bottleneck = ConvModule((len(dilations) + int(pool)) * channels, channels, 3, padding=1,
                                     conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x):
        branches = []
        if self.image_pool is not None:
            branches.append(resize(self.image_pool(x), size=x.shape[2:], mode='bilinear',
                                   align_corners=self.align_corners))
        branches.extend(self.aspp_modules(x))
        return self.bottleneck(torch.cat(branches, dim=1))


def build_fusion_layer(in_channels, out_channels, type, align_corners=False, **kwargs):
    """Build the ``fuse_layer`` of a DAFormer head from its ``fusion_cfg``.

    Args:
        in_channels (int): channels of the concatenated embedding.
        out_channels (int): the head's ``channels``.
        type (str): ``'mlp'`` (per-pixel linear layer: 1x1 conv, norm/act only if given), ``'conv'``
            (``ConvModule``, ``kernel_size`` default 3), ``'sep_conv'`` (depthwise-separable conv, ``kernel_size``
            default 3) or ``'aspp'`` (:class:`ASPPWrapper`; needs ``sep``, ``dilations``, ``pool``, ``norm_cfg``,
            ``act_cfg``).
        align_corners (bool): the head's, used by the ASPP pooling branch.
        **kwargs: the remaining ``fusion_cfg`` entries.

    Returns:
        nn.Module: maps (B, in_channels, H, W) to (B, out_channels, H, W).
    """
    if type == 'mlp':
        return ConvModule(in_channels, out_channels, 1, norm_cfg=kwargs.pop('norm_cfg', None),
                          act_cfg=kwargs.pop('act_cfg', None), **kwargs)
    if type in ('conv', 'sep_conv'):
        kernel_size = kwargs.pop('kernel_size', 3)
        module = ConvModule if type == 'conv' else DepthwiseSeparableConvModule
        return module(in_channels, out_channels, kernel_size, padding=kernel_size // 2, **kwargs)
    if type == 'aspp':
        return ASPPWrapper(in_channels, out_channels, align_corners=align_corners, **kwargs)
    raise UserError(f"unknown DAFormer fusion type {type!r}: expected 'mlp', 'conv', 'sep_conv' or 'aspp'")
