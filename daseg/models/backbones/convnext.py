"""ConvNeXt (Liu et al., "A ConvNet for the 2020s", CVPR 2022) as a segmentation backbone.

Written here from the paper rather than taken from mmpretrain: mmpretrain installs beside the pinned OpenMMLab
packages but does not import without torchvision (its heads import evaluation code that imports
``torchvision.ops``), and a torchvision wheel must match torch's build exactly. The parameter names are
mmcls/mmpretrain's, so that their ImageNet files load as they are; the official release loads through the key
table :mod:`daseg.weights.convnext_keys`.

Architecture: a stem (4x4 convolution with stride 4, LayerNorm over channels), then four stages of residual
blocks, with a downsampling layer (LayerNorm, 2x2 convolution with stride 2) before stages 1-3. A block is a
7x7 depthwise convolution, LayerNorm, Linear to 4x the channels, GELU, Linear back, a per-channel layer scale
``gamma`` and stochastic depth on the residual branch. Each output stage has its own LayerNorm ``norm{i}``.

The forward pass has no data-dependent Python (it runs under ``torch.compile(fullgraph=True)``) and keeps a
channels-last input channels-last.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_init
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.weights import load_checkpoint_file
from daseg.weights.convnext_keys import fit_convnext_weights, split_convnext_checkpoint
from daseg.weights.encoder_keys import pretrained_file
from daseg.weights.keys import listed

# Blocks per stage and stage widths of the paper's variants (Sec. 2.7 / Table 9).
ARCH_SETTINGS = {
    'tiny': dict(depths=[3, 3, 9, 3], channels=[96, 192, 384, 768]),
    'small': dict(depths=[3, 3, 27, 3], channels=[96, 192, 384, 768]),
    'base': dict(depths=[3, 3, 27, 3], channels=[128, 256, 512, 1024]),
    'large': dict(depths=[3, 3, 27, 3], channels=[192, 384, 768, 1536]),
    'xlarge': dict(depths=[3, 3, 27, 3], channels=[256, 512, 1024, 2048]),
}
LN_EPS = 1e-6
MLP_RATIO = 4


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map; same parameters (``weight``, ``bias``) as
    ``nn.LayerNorm(C)``. A channels-last map is normalised in place of its memory layout and stays channels-last."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, Linear (C -> 4C), GELU, Linear (4C -> C), layer scale, drop path, residual.

    Args:
        channels (int): C.
        drop_path (float): probability of dropping the residual branch (training only).
        layer_scale_init_value (float): initial ``gamma``; 0 or less: no layer scale.

    Inputs and output (B, C, H, W).
    """

    def __init__(self, channels, drop_path=0., layer_scale_init_value=1e-6):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=LN_EPS)
        self.pointwise_conv1 = nn.Linear(channels, MLP_RATIO * channels)
        self.act = nn.GELU()
        self.pointwise_conv2 = nn.Linear(MLP_RATIO * channels, channels)
        self.gamma = (nn.Parameter(torch.full((channels,), float(layer_scale_init_value)))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        y = self.depthwise_conv(x).permute(0, 2, 3, 1)  # (B, H, W, C): the Linears act on channels
        y = self.pointwise_conv2(self.act(self.pointwise_conv1(self.norm(y))))
        if self.gamma is not None:
            y = y * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))


def _arch_settings(arch):
    if isinstance(arch, str):
        if arch not in ARCH_SETTINGS:
            raise UserError(f"unknown ConvNeXt arch {arch!r}: expected one of {', '.join(ARCH_SETTINGS)} or "
                            'dict(depths=[...], channels=[...])')
        return arch, ARCH_SETTINGS[arch]
    if not isinstance(arch, dict) or set(arch) != {'depths', 'channels'} or \
            len(arch['depths']) != len(arch['channels']) or not arch['depths']:
        raise UserError(f'ConvNeXt arch dict must be dict(depths=[...], channels=[...]) of equal lengths, got {arch}')
    return 'custom', arch


@MODELS.register_module()
class ConvNeXt(BaseModule):
    """ConvNeXt-T/S/B/L/XL encoder with mmcls/mmpretrain parameter names.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'``, ``'large'``, ``'xlarge'`` (see ``ARCH_SETTINGS``),
            or ``dict(depths=[...], channels=[...])``.
        in_channels (int): image channels. Default 3.
        out_indices (Sequence[int]): stages whose normalised maps are returned; negative counts from the end.
        drop_path_rate (float): stochastic depth of the last block, increasing linearly from 0 over all blocks.
        layer_scale_init_value (float): initial layer scale ``gamma`` (1e-6 in the paper; the DAFormer ConvNeXt
            configs set 1.0); 0 or less: no layer scale. A loaded file sets ``gamma`` anyway.
        gap_before_final_norm (bool): accepted for mmcls configs; only False (dense outputs) is meaningful here.
        pretrained (str | None): local ConvNeXt weights file (mmcls/mmpretrain, official or converted layout),
            read weights-only and checked key by key in :meth:`init_weights`.
        init_cfg (dict | list | None): mmengine initialisation instead of the default (truncated normal, std
            0.02, for convolutions and Linears); not with ``pretrained``, and not ``type='Pretrained'``.

    Inputs (B, in_channels, H, W); outputs a list with one (B, C_i, H / 2**(i+2), W / 2**(i+2)) map per entry of
    ``out_indices`` (floored), C_i = ``channels[i]``.
    """

    def __init__(self, arch='tiny', in_channels=3, out_indices=(0, 1, 2, 3), drop_path_rate=0.,
                 layer_scale_init_value=1e-6, gap_before_final_norm=False, pretrained=None, init_cfg=None):
        if gap_before_final_norm:
            raise UserError('ConvNeXt: gap_before_final_norm=True pools each output to one vector (classification); '
                            'a segmentation backbone needs gap_before_final_norm=False')
        pretrained = pretrained_file('ConvNeXt', pretrained, init_cfg)
        super().__init__(init_cfg=init_cfg)
        self.arch, settings = _arch_settings(arch)
        self.depths, self.channels = list(settings['depths']), list(settings['channels'])
        stages = len(self.depths)
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        if not indices or any(not -stages <= i < stages for i in indices):
            raise UserError(f'ConvNeXt: out_indices {out_indices} must name stages of 0..{stages - 1}')
        self.out_indices = tuple(sorted({i % stages for i in indices}))
        self.out_channels = [self.channels[i] for i in self.out_indices]
        self.pretrained = pretrained

        total = sum(self.depths)
        rates = [drop_path_rate * k / max(total - 1, 1) for k in range(total)]
        stem = nn.Sequential(nn.Conv2d(in_channels, self.channels[0], kernel_size=4, stride=4),
                             LayerNorm2d(self.channels[0], eps=LN_EPS))
        self.downsample_layers = nn.ModuleList([stem])
        self.stages = nn.ModuleList()
        for i, (depth, width) in enumerate(zip(self.depths, self.channels)):
            if i > 0:
                self.downsample_layers.append(nn.Sequential(
                    LayerNorm2d(self.channels[i - 1], eps=LN_EPS),
                    nn.Conv2d(self.channels[i - 1], width, kernel_size=2, stride=2)))
            first = sum(self.depths[:i])
            self.stages.append(nn.Sequential(*[
                ConvNeXtBlock(width, rates[first + j], layer_scale_init_value) for j in range(depth)]))
            if i in self.out_indices:
                self.add_module(f'norm{i}', LayerNorm2d(width, eps=LN_EPS))

    def forward(self, x):
        """Maps [B, C_i, H/s_i, W/s_i] of the stages in ``out_indices`` for images ``x`` [B, C, H, W]."""
        outs = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = stage(downsample(x))
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return outs

    def _init_random(self):
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                trunc_normal_init(module, std=.02, bias=0.)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def init_weights(self):
        """Initialise randomly (or by ``init_cfg``), then load ``pretrained`` when given.

        Output norms a classification file lacks (``norm0`` .. ``norm2``) keep their initialisation (weight 1,
        bias 0); every other key must be in the file with this model's shape. One log line names what was
        initialised and not loaded, and what the file held besides the backbone.
        """
        if self.init_cfg is not None:
            super().init_weights()
            return
        self._init_random()
        self._is_init = True
        if self.pretrained is None:
            return
        sd, dropped = split_convnext_checkpoint(load_checkpoint_file(self.pretrained), source=self.pretrained)
        own = self.state_dict()
        initialised, unused = fit_convnext_weights(own, sd, f'{self.pretrained} does not fit ConvNeXt-{self.arch}')
        self.load_state_dict({k: v for k, v in sd.items() if k not in unused}, strict=False)
        dropped += unused
        print_log(f'ConvNeXt-{self.arch}: loaded {len(sd) - len(unused)} tensors from {self.pretrained}; '
                  f'{len(initialised)} initialised, not loaded: {listed(initialised, 6) or "none"}; '
                  f'{len(dropped)} dropped: {listed(dropped, 6) or "none"}', logger='current')
