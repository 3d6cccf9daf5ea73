"""Mix Transformer (MiT-B0..B5), the SegFormer/DAFormer encoder, on top of mmseg's ``MixVisionTransformer``.

mmseg's implementation has the original's structure but differs in three numerical details, which ``MiT``
restores by default (``original_numerics=True``):

* LayerNorm eps: mmseg uses ``norm_cfg`` (eps 1e-6) everywhere; the original uses 1e-6 only for the block and
  stage norms, and ``nn.LayerNorm``'s default 1e-5 for the patch-embedding norm and the attention ``sr`` norm.
* Initialisation without pretrained weights: the original draws every Linear (q, kv, proj, fc1, fc2) from
  trunc_normal(std=0.02); mmseg leaves the packed q/k/v projection at torch's xavier init and treats fc1/fc2,
  which are 1x1 convs there, as convs (normal with std sqrt(2 / fan_out)).
"""
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_init
from mmseg.models.backbones import MixVisionTransformer
from mmseg.registry import MODELS

from daseg.errors import UserError
from .mit_convert import load_mit_weights

# Stage widths are embed_dims * num_heads; num_heads [1, 2, 5, 8] is shared by all variants.
ARCH_SETTINGS = {
    'b0': dict(embed_dims=32, num_layers=[2, 2, 2, 2]),
    'b1': dict(embed_dims=64, num_layers=[2, 2, 2, 2]),
    'b2': dict(embed_dims=64, num_layers=[3, 4, 6, 3]),
    'b3': dict(embed_dims=64, num_layers=[3, 4, 18, 3]),
    'b4': dict(embed_dims=64, num_layers=[3, 8, 27, 3]),
    'b5': dict(embed_dims=64, num_layers=[3, 6, 40, 3]),
}
NUM_HEADS = [1, 2, 5, 8]
ORIGINAL_PATCH_SR_NORM_EPS = 1e-5


def arch_out_channels(arch):
    """Channels of the four output maps of MiT-``arch``, e.g. ``[64, 128, 320, 512]`` for ``'b5'``."""
    return [ARCH_SETTINGS[arch]['embed_dims'] * h for h in NUM_HEADS]


def detect_arch(sd):
    """The MiT variant whose shapes fit mmseg-layout weights.

    Args:
        sd (dict[str, Tensor]): mmseg-layout MiT weights.

    Returns:
        str: ``'b0'`` .. ``'b5'``.
    """
    width = sd['layers.0.0.projection.weight'].shape[0]
    depths = [len({k.split('.')[3] for k in sd if k.startswith(f'layers.{i}.1.')}) for i in range(4)]
    for arch, setting in ARCH_SETTINGS.items():
        if setting['embed_dims'] == width and setting['num_layers'] == depths:
            return arch
    raise UserError(f'no MiT variant has a stem of width {width} and stage depths {depths}')


@MODELS.register_module()
class MiT(MixVisionTransformer):
    """MiT-B0..B5 backbone with the original SegFormer hyperparameters and flexible pretrained loading.

    Args:
        arch (str): ``'b0'`` .. ``'b5'``; sets ``embed_dims`` and ``num_layers``.
        pretrained (str | None): local weights file in the original (``mit_bX.pth``), HuggingFace
            (``nvidia/mit-bX``) or mmseg layout, loaded strictly by :meth:`init_weights`.
        drop_path_rate (float): stochastic depth, increasing linearly over all blocks. Default 0.1.
        original_numerics (bool): restore the original LayerNorm eps and random init (see module docstring).
        **kwargs: passed to ``MixVisionTransformer`` (e.g. ``out_indices``, ``with_cp``); they override the
            arch settings.

    Inputs (B, 3, H, W); outputs four maps (B, C_i, H/s, W/s) with s = 4, 8, 16, 32 and
    C_i = ``arch_out_channels(arch)``.
    """

    def __init__(self, arch='b5', pretrained=None, drop_path_rate=0.1, original_numerics=True, **kwargs):
        if arch not in ARCH_SETTINGS:
            raise UserError(f"unknown MiT arch {arch!r}: expected one of {', '.join(ARCH_SETTINGS)}")
        if pretrained is not None and kwargs.get('init_cfg') is not None:
            raise UserError('MiT: give either pretrained or init_cfg, not both')
        settings = dict(
            ARCH_SETTINGS[arch],
            num_heads=NUM_HEADS,
            sr_ratios=[8, 4, 2, 1],
            mlp_ratio=4,
            qkv_bias=True,
            drop_path_rate=drop_path_rate,
            norm_cfg=dict(type='LN', eps=1e-6))
        settings.update(kwargs)
        super().__init__(**settings)
        self.arch = arch
        self.pretrained = pretrained
        self.original_numerics = original_numerics
        self.out_channels = [self.embed_dims * h for h in self.num_heads]
        if original_numerics:
            for patch_embed, blocks, _ in self.layers:
                patch_embed.norm.eps = ORIGINAL_PATCH_SR_NORM_EPS
                for block in blocks:
                    if block.attn.sr_ratio > 1:
                        block.attn.norm.eps = ORIGINAL_PATCH_SR_NORM_EPS

    def init_weights(self):
        """Load ``pretrained`` (strictly, any layout), else initialise randomly as the original does."""
        if self.pretrained is not None:
            self.load_checked(load_mit_weights(self.pretrained), source=self.pretrained)
            print_log(f'MiT-{self.arch}: loaded pretrained weights from {self.pretrained}', logger='current')
            return
        super().init_weights()
        if self.init_cfg is None and self.original_numerics:
            for _, blocks, _ in self.layers:
                for block in blocks:
                    attn = block.attn.attn
                    nn.init.trunc_normal_(attn.in_proj_weight, std=0.02)
                    if attn.in_proj_bias is not None:
                        nn.init.zeros_(attn.in_proj_bias)
                    for fc in (block.ffn.layers[0], block.ffn.layers[4]):
                        trunc_normal_init(fc, std=0.02, bias=0.)

    def check_state_dict(self, sd, source='weights'):
        """Raise a UserError unless ``sd`` has exactly this model's keys and shapes.

        Args:
            sd (dict[str, Tensor]): mmseg-layout weights.
            source (str): name of their origin for the message (a file name).
        """
        own = self.state_dict()
        for key, param in own.items():
            if key not in sd:
                raise UserError(f'{source} does not fit MiT-{self.arch}: key {key} is missing '
                                f'(expected shape {tuple(param.shape)}); is it another MiT variant?')
            if sd[key].shape != param.shape:
                raise UserError(f'{source} does not fit MiT-{self.arch}: {key} has shape '
                                f'{tuple(sd[key].shape)} in the file but {tuple(param.shape)} in the model')
        for key in sd:
            if key not in own:
                raise UserError(f'{source} does not fit MiT-{self.arch}: unexpected key {key} '
                                f'(shape {tuple(sd[key].shape)}); is it another MiT variant?')

    def load_checked(self, sd, source='weights'):
        """Load mmseg-layout weights after :meth:`check_state_dict`."""
        self.check_state_dict(sd, source)
        self.load_state_dict(sd)
