"""MRM's Rebuilder (Masked Representation Modeling, CVPR 2026): a training-only module that masks tokens of the
student's deepest features and rebuilds every decoder input level from the visible ones.

Architecture as released (reference/ORIGINALS_2.md section 3.2): a per-pixel linear embedding of the last encoder
stage to ``embed_dim``, resized to a ``grid`` x ``grid`` token map; a per-token Bernoulli mask (kept when a uniform
draw exceeds ``mask_ratio``); masked tokens replaced by a learnable mask token; a fixed 2-D sine-cosine position
embedding (MAE's) added after masking; ``depth`` transformer blocks (mmseg's ViT encoder layer: pre-norm attention
and GELU MLP, as timm's ``Block``) and a final LayerNorm; one projector per decoder input level (transposed
convolutions with LayerNorm2d + GELU, a 1x1 convolution, LayerNorm2d). The output keeps the original features
where the token is kept and takes the rebuilt ones where it is masked (the mask nearest-resized to each level).

Unlike the release (hard-wired to 512x512 inputs), sizes come from the feature maps: the projectors upsample by
the levels' fixed stride ratios (``upsample_steps``) and are then resized to each level's actual size, so any
crop works (HRDA's context and detail crops, 768x384, ...).
"""
import numpy as np
import torch
import torch.nn.functional as F
from mmseg.models.backbones.vit import TransformerEncoderLayer
from mmseg.registry import MODELS
from torch import nn

from ...errors import UserError


def sincos_pos_embed(embed_dim: int, grid: int) -> torch.Tensor:
    """MAE's fixed 2-D sine-cosine position embedding of a ``grid`` x ``grid`` map: [grid * grid, embed_dim].

    Half of the channels encode one grid coordinate, half the other; each half is ``[sin(p w_k), cos(p w_k)]``
    with ``w_k = 10000 ** (-k / (D / 4))``, ``k < D / 4``.
    """
    if embed_dim % 4:
        raise UserError(f'Rebuilder embed_dim must be divisible by 4 (sine-cosine position embedding), got {embed_dim}')
    coords = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))  # (w, h) as MAE

    def one_axis(positions):
        omega = 1.0 / 10000 ** (np.arange(embed_dim // 4, dtype=np.float64) / (embed_dim / 4))
        out = positions.reshape(-1)[:, None] * omega[None]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return torch.from_numpy(np.concatenate([one_axis(coords[0]), one_axis(coords[1])], axis=1)).float()


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an [N, C, H, W] map (timm's LayerNorm2d, eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__(channels, eps=eps)

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


def projector(embed_dim: int, out_channels: int, steps: int) -> nn.Sequential:
    """``steps`` x2 transposed convolutions (widths 256, then 128 for ``embed_dim`` 512; LayerNorm2d + GELU between
    them), a 1x1 convolution to ``out_channels`` and a LayerNorm2d, as the release's projectors."""
    layers, width = [], embed_dim
    for step in range(steps):
        out = max(embed_dim // 2 ** (step + 1), embed_dim // 4)
        if step:
            layers += [LayerNorm2d(width), nn.GELU()]
        layers.append(nn.ConvTranspose2d(width, out, kernel_size=4, stride=2, padding=1))
        width = out
    layers += [nn.Conv2d(width, out_channels, 1), LayerNorm2d(out_channels)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class Rebuilder(nn.Module):
    """Masks and rebuilds the decoder input levels (see the module docstring).

    Args:
        in_channels (int | Sequence[int]): channels of the levels the decode head reads (DLV2Head: one int).
        in_index (int | Sequence[int]): their positions in the backbone's list of maps; the last one is masked.
        upsample_steps (Sequence[int] | None): per level, the number of x2 steps from the token map (the level's
            stride over the last level's); default [3, 2, 1, 0] for four levels (MiT), [2] for one (DeepLabV2 at
            output stride 8, as the release).
        embed_dim (int): token width. Default 512.
        grid (int): side of the token map. Default 16.
        mask_ratio (float): probability that a token is masked. Default 0.40.
        depth (int): transformer blocks. Default 2.
        num_heads (int): attention heads. Default 16.
        mlp_ratio (float): MLP width over ``embed_dim``. Default 4.
    """

    def __init__(self, in_channels, in_index, upsample_steps=None, embed_dim: int = 512, grid: int = 16,
                 mask_ratio: float = 0.4, depth: int = 2, num_heads: int = 16, mlp_ratio: float = 4.0):
        super().__init__()
        channels = [in_channels] if isinstance(in_channels, int) else list(in_channels)
        index = [in_index] if isinstance(in_index, int) else list(in_index)
        steps = list(upsample_steps) if upsample_steps is not None else (
            [2] if len(channels) == 1 else [len(channels) - 1 - i for i in range(len(channels))])
        if not len(channels) == len(index) == len(steps):
            raise UserError(f'Rebuilder: in_channels {channels}, in_index {index} and upsample_steps {steps} '
                            'must have one entry per level')
        if not 0 <= mask_ratio < 1:
            raise UserError(f'Rebuilder mask_ratio must be in [0, 1), got {mask_ratio!r}')
        self.in_index, self.grid, self.mask_ratio = index, grid, mask_ratio
        self.embed = nn.Linear(channels[-1], embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim, 1, 1))
        self.register_buffer('pos_embed', sincos_pos_embed(embed_dim, grid)[None], persistent=False)
        self.blocks = nn.ModuleList(
            TransformerEncoderLayer(embed_dim, num_heads, int(embed_dim * mlp_ratio), qkv_bias=True)
            for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.projectors = nn.ModuleList(projector(embed_dim, c, s) for c, s in zip(channels, steps))
        self._init_weights()

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.mask_token, std=0.02)

    def keep_mask(self, n: int, generator=None, device=None) -> torch.Tensor:
        """Per-token keep mask [N, 1, grid, grid] (1 = kept), drawn on the CPU generator."""
        draw = torch.rand((n, 1, self.grid, self.grid), generator=generator)
        return (draw > self.mask_ratio).float().to(device)

    def forward(self, feats, generator=None, keep=None):
        """The backbone's list of maps with the decoder's levels rebuilt where tokens are masked.

        Args:
            feats (list[Tensor]): backbone maps [N, C_k, H_k, W_k] of any size.
            generator (torch.Generator, optional): CPU generator of the mask draw.
            keep (Tensor, optional): a given keep mask [N, 1, grid, grid] instead of a draw.

        Returns:
            list[Tensor]: the maps, those at ``in_index`` replaced by ``f * m + rebuilt * (1 - m)``.
        """
        last = feats[self.in_index[-1]]
        n = last.shape[0]
        x = self.embed(last.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        if tuple(x.shape[-2:]) != (self.grid, self.grid):
            x = F.interpolate(x, size=(self.grid, self.grid), mode='bilinear', align_corners=False)
        keep = self.keep_mask(n, generator, x.device) if keep is None else keep
        keep = keep.to(x.dtype)
        x = x * keep + (1 - keep) * self.mask_token.to(x.dtype)
        tokens = x.flatten(2).transpose(1, 2) + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            tokens = block(tokens)
        x = self.norm(tokens).transpose(1, 2).reshape(n, -1, self.grid, self.grid)
        out = list(feats)
        for i, proj in zip(self.in_index, self.projectors):
            rebuilt = proj(x)
            size = tuple(feats[i].shape[-2:])
            if tuple(rebuilt.shape[-2:]) != size:
                rebuilt = F.interpolate(rebuilt, size=size, mode='bilinear', align_corners=False)
            m = F.interpolate(keep, size=size, mode='nearest').to(feats[i].dtype)
            out[i] = feats[i] * m + rebuilt.to(feats[i].dtype) * (1 - m)
        return out


def rebuilder_levels(head) -> dict:
    """``in_channels`` / ``in_index`` of the levels a decode head reads (an HRDA head: those of its wrapped head,
    which it shares)."""
    return dict(in_channels=head.in_channels, in_index=head.in_index)
