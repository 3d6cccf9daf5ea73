"""Mix Transformer (MiT-B0..B5), the SegFormer/DAFormer encoder, on top of mmseg's ``MixVisionTransformer``.

mmseg's implementation has the original's structure but differs in three numerical details, which ``MiT``
restores by default (``original_numerics=True``):

* LayerNorm eps: mmseg uses ``norm_cfg`` (eps 1e-6) everywhere; the original uses 1e-6 only for the block and
  stage norms, and ``nn.LayerNorm``'s default 1e-5 for the patch-embedding norm and the attention ``sr`` norm.
* Initialisation without pretrained weights: the original draws every Linear (q, kv, proj, fc1, fc2) from
  trunc_normal(std=0.02); mmseg leaves the packed q/k/v projection at torch's xavier init and treats fc1/fc2,
  which are 1x1 convs there, as convs (normal with std sqrt(2 / fan_out)).

Two speed changes, neither changing a result beyond float rounding:

* Fused attention (``fused_attention=True``): mmseg's ``EfficientMultiheadAttention`` calls
  ``nn.MultiheadAttention`` with its default ``need_weights=True``, which takes the unfused path (an explicit
  [B, heads, N, M] attention matrix, plus its head average, in memory for the backward pass).
  :class:`FusedEfficientMultiheadAttention` computes the same function with
  ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels on the GPU), on the same parameters.
* Activation checkpointing (``with_cp=True``): each transformer block's activations are recomputed in the
  backward pass instead of stored, with torch's non-reentrant checkpoint (mmseg's uses the deprecated
  reentrant variant); the recomputation replays the same random drop-path masks.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_init
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.backbones.mit import EfficientMultiheadAttention
from mmseg.models.utils import nlc_to_nchw
from mmseg.registry import MODELS
from torch.utils.checkpoint import checkpoint

from daseg.errors import UserError
from daseg.weights import check_fits
from daseg.weights.mit_keys import load_mit_weights

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


class FusedEfficientMultiheadAttention(EfficientMultiheadAttention):
    """SegFormer's spatial-reduction attention through ``F.scaled_dot_product_attention``.

    Same parameters (``attn.in_proj_weight``, ``attn.out_proj``, ``sr``, ``norm``) and the same function as
    mmseg's ``EfficientMultiheadAttention``; the projections are applied in the batch-first layout directly.

    Inputs: ``x`` [B, N, C] tokens of an (H, W) map (``hw_shape``), ``identity`` [B, N, C] (``x`` when None).
    Output: [B, N, C].
    """

    def forward(self, x, hw_shape, identity=None):
        x_kv = x
        if self.sr_ratio > 1:
            x_kv = self.norm(self.sr(nlc_to_nchw(x, hw_shape)).flatten(2).transpose(1, 2))
        if identity is None:
            identity = x
        attn = self.attn
        batch, n_query, dims = x.shape
        heads = self.num_heads
        w_q, w_kv = attn.in_proj_weight.split([dims, 2 * dims])
        b_q, b_kv = attn.in_proj_bias.split([dims, 2 * dims]) if attn.in_proj_bias is not None else (None, None)
        query = F.linear(x, w_q, b_q).view(batch, n_query, heads, -1).transpose(1, 2)
        key, value = F.linear(x_kv, w_kv, b_kv).view(batch, -1, 2, heads, dims // heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(query, key, value,
                                             dropout_p=attn.dropout if self.training else 0.0)
        out = attn.out_proj(out.transpose(1, 2).reshape(batch, n_query, dims))
        return identity + self.dropout_layer(self.proj_drop(out))


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
        fused_attention (bool): attention through ``F.scaled_dot_product_attention`` (see module docstring).
            Default True.
        with_cp (bool): activation checkpointing of every transformer block while gradients are computed:
            less memory, about one more forward pass of the backbone. Default False.
        **kwargs: passed to ``MixVisionTransformer`` (e.g. ``out_indices``); they override the arch settings.

    Inputs (B, 3, H, W); outputs four maps (B, C_i, H/s, W/s) with s = 4, 8, 16, 32 and
    C_i = ``arch_out_channels(arch)``.
    """

    def __init__(self, arch='b5', pretrained=None, drop_path_rate=0.1, original_numerics=True, fused_attention=True,
                 with_cp=False, **kwargs):
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
        # mmseg's own with_cp uses the reentrant checkpoint; forward() checkpoints the blocks instead.
        super().__init__(**settings, with_cp=False)
        self.with_cp = with_cp
        self.fused_attention = fused_attention
        if fused_attention:
            for _, blocks, _ in self.layers:
                for block in blocks:
                    # Same module, same state: only the forward differs (see FusedEfficientMultiheadAttention).
                    block.attn.__class__ = FusedEfficientMultiheadAttention
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

    def forward(self, x):
        """Four maps [B, C_i, H/s, W/s] (s = 4, 8, 16, 32) of images ``x`` [B, 3, H, W]."""
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = patch_embed(x)
            for block in blocks:
                if self.with_cp and x.requires_grad and torch.is_grad_enabled():
                    x = checkpoint(block, x, hw_shape, use_reentrant=False)
                else:
                    x = block(x, hw_shape)
            x = nlc_to_nchw(norm(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return outs

    def check_state_dict(self, sd, source='weights'):
        """Raise a UserError unless ``sd`` has exactly this model's keys and shapes.

        Args:
            sd (dict[str, Tensor]): mmseg-layout weights.
            source (str): name of their origin for the message (a file name).
        """
        check_fits(self.state_dict(), sd, f'{source} does not fit MiT-{self.arch} (another MiT variant?)')

    def load_checked(self, sd, source='weights'):
        """Load mmseg-layout weights after :meth:`check_state_dict`."""
        self.check_state_dict(sd, source)
        self.load_state_dict(sd)
