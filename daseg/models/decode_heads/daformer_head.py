"""DAFormer decode head: per-level linear embedding, upsampling to stride 4, concatenation, context-aware fusion.

Parameter names match the original DAFormer (``embed_layers.{i}.proj``, ``fuse_layer.*``, ``conv_seg``), so
released DAFormer/HRDA/MIC decode heads load without renaming.
"""
import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from daseg.errors import UserError
from .fusion import build_fusion_layer
from .label_loss import LabelLossMixin


class MLP(nn.Module):
    """Per-pixel linear projection of a feature map (a ``nn.Linear`` named ``proj``, as in SegFormer).

    Args:
        in_channels (int): C_in of the input (B, C_in, H, W).
        out_channels (int): C_out of the output (B, C_out, H, W).
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.proj = nn.Linear(in_channels, out_channels)

    def forward(self, x):
        n, _, h, w = x.shape
        x = self.proj(x.flatten(2).transpose(1, 2))
        return x.transpose(1, 2).reshape(n, -1, h, w)


@MODELS.register_module()
class DAFormerHead(LabelLossMixin, BaseDecodeHead):
    """The DAFormer decoder (Hoyer et al., CVPR 2022).

    Args:
        decoder_params (dict): ``embed_dims`` (int, or one per input level) and ``fusion_cfg`` (see
            :func:`~daseg.models.decode_heads.fusion.build_fusion_layer`). ``embed_cfg`` / ``embed_neck_cfg`` of
            original configs are accepted when their type is ``'mlp'``, the only embedding the original uses.
        **kwargs: ``BaseDecodeHead`` arguments (``in_channels`` list, ``in_index`` list, ``channels``,
            ``num_classes``, ``dropout_ratio``, ``norm_cfg``, ``align_corners``, ``loss_decode``...).

    Inputs: the backbone's list of maps (B, in_channels[k], H_k, W_k); output logits
    (B, num_classes, H_0, W_0) at the resolution of the first selected level (stride 4 for MiT).
    """

    def __init__(self, decoder_params, **kwargs):
        super().__init__(input_transform='multiple_select', **kwargs)
        params = dict(decoder_params)
        embed_dims = params.pop('embed_dims')
        fusion_cfg = dict(params.pop('fusion_cfg'))
        for name in ('embed_cfg', 'embed_neck_cfg'):
            cfg = params.pop(name, None)
            if cfg is not None and cfg.get('type') != 'mlp':
                raise UserError(f"DAFormerHead: decoder_params.{name} type {cfg.get('type')!r} is not supported "
                                "(only 'mlp')")
        if params:
            raise UserError(f'DAFormerHead: unknown decoder_params {", ".join(sorted(params))}')
        if isinstance(embed_dims, int):
            embed_dims = [embed_dims] * len(self.in_index)
        self.embed_layers = nn.ModuleDict({
            str(i): MLP(in_ch, dims) for i, in_ch, dims in zip(self.in_index, self.in_channels, embed_dims)})
        self.fuse_layer = build_fusion_layer(sum(embed_dims), self.channels, align_corners=self.align_corners,
                                             **fusion_cfg)

    def forward(self, inputs):
        return self.cls_seg(self.fused(inputs))

    def forward_with_features(self, inputs):
        """Logits and the fused features after dropout (what DDB's prototypes are computed on, as on its adapter
        head's bottleneck).

        Args:
            inputs (list[Tensor]): the backbone's maps.

        Returns:
            tuple[Tensor, Tensor]: logits (B, num_classes, h, w) and features (B, channels, h, w).
        """
        features = self.fused(inputs)
        if self.dropout is not None:
            features = self.dropout(features)
        return self.conv_seg(features), features

    def fused(self, inputs):
        """The fusion layer's output (B, channels, h, w) at the resolution of the first input map."""
        feats = self._transform_inputs(inputs)
        for i, x, in_ch in zip(self.in_index, feats, self.in_channels):
            # A backbone changed without the head (e.g. arch='b0' with b5's in_channels) would otherwise fail
            # deep inside a matmul.
            if x.shape[1] != in_ch:
                raise UserError(f'DAFormerHead: backbone output {i} has {x.shape[1]} channels but '
                                f'decode_head.in_channels says {in_ch}; set in_channels to the backbone '
                                'output channels (MiT-b0: [32, 64, 160, 256], b1-b5: [64, 128, 320, 512])')
        size = feats[0].shape[2:]
        embedded = []
        for i, x in zip(self.in_index, feats):
            x = self.embed_layers[str(i)](x)
            if x.shape[2:] != size:
                x = resize(x, size=size, mode='bilinear', align_corners=self.align_corners)
            embedded.append(x)
        return self.fuse_layer(torch.cat(embedded, dim=1))
