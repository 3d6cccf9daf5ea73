"""HRDA decode head: a single-scale head applied to a low-resolution context and a high-resolution detail input,
fused by a learned scale attention (Hoyer et al., ECCV 2022).

Parameter names match the original (``head.*`` for the segmentation head shared by both scales,
``scale_attention.*`` for the attention head, no ``conv_seg`` of its own), so released HRDA checkpoints load
unchanged.
"""
import copy
import inspect

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from daseg.errors import UserError
from ..utils.boxes import box_mask, crop, paste_windows
from .label_loss import LabelLossMixin

# What HRDAHead can return as its prediction: the fusion, either scale alone, or the attention map (debugging).
OUTPUTS = ('fused', 'lr', 'hr', 'att')
# BaseDecodeHead arguments that HRDAHead itself takes (everything else only configures the wrapped heads).
_BASE_ARGS = set(inspect.signature(BaseDecodeHead.__init__).parameters) - {
    'self', 'init_cfg', 'input_transform', 'dropout_ratio'}


def attention_head_cfg(head_cfg, classwise=True, embed_dim=256):
    """The config of the scale-attention head derived from the segmentation head's config.

    As in the original: one output per class (``classwise``) or a single one; for a DAFormer-style head
    (``decoder_params.fusion_cfg``) the embedding and channels become ``embed_dim`` and an ASPP fusion is replaced
    by a 1x1 conv + norm + ReLU. Other heads (e.g. DLV2Head) are copied as they are.

    Args:
        head_cfg (dict): config of the segmentation head (with ``type``).
        classwise (bool): one attention map per class; else one for all.
        embed_dim (int): width of a DAFormer-style attention head.

    Returns:
        dict: the attention head's config.
    """
    cfg = copy.deepcopy(head_cfg)
    if not classwise:
        # One sigmoid map; the threshold only silences mmseg's warning for single-output heads.
        cfg.update(num_classes=1, out_channels=1, threshold=0.5)
    params = cfg.get('decoder_params')
    if isinstance(params, dict) and 'fusion_cfg' in params:
        cfg['channels'] = embed_dim
        params['embed_dims'] = embed_dim
        fusion = params['fusion_cfg']
        if fusion.get('type') == 'aspp':
            params['fusion_cfg'] = dict(type='conv', kernel_size=1, act_cfg=dict(type='ReLU'),
                                        norm_cfg=fusion.get('norm_cfg'))
    return cfg


@MODELS.register_module()
class HRDAHead(LabelLossMixin, BaseDecodeHead):
    """Multi-resolution fusion of a single-scale decode head (HRDA).

    Inputs are ``[lr_feats, hr]``: ``lr_feats`` the backbone maps of the whole image at the context scale, ``hr`` a
    dict ``{'features': maps, 'boxes': [(y1, y2, x1, x2), ...], 'image_size': (H, W)}`` holding the backbone maps
    of K crops of the full-resolution image (window-major batch of K * N, see
    :func:`~daseg.models.utils.boxes.paste_windows`): one detail crop in training, the sliding windows or the
    whole image in inference.

    ``head`` predicts both scales; the HR window logits are pasted into a map over the whole image (averaged where
    windows overlap). ``scale_attention`` predicts ``att = sigmoid(.)`` from the context features. Where no HR
    prediction exists (outside the detail crop in training) the attention is 0. With the LR quantities upsampled
    to the HR map: ``fused = att * hr + up((1 - att) * lr)`` (the original's order: the context logits are weighted
    at their own resolution, then upsampled).

    Args:
        single_scale_head (str): registered type of the wrapped head, e.g. ``'DAFormerHead'`` or ``'DLV2Head'``.
        attention_classwise (bool): one attention map per class (HRDA's default) or one for all classes.
        attention_embed_dim (int): embedding width of a DAFormer-style attention head. Default 256.
        hr_loss_weight (float): weight of the loss of the detail crop's own prediction (lambda_d = 0.1); the fused
            loss is weighted ``1 - hr_loss_weight - lr_loss_weight``.
        lr_loss_weight (float): weight of a loss on the context prediction alone. Default 0.
        scale_attention_cfg (dict, optional): explicit attention head config (overrides the derived one).
        output (str): what ``forward``/``predict`` return: ``'fused'`` (default), ``'lr'``, ``'hr'`` or ``'att'``
            (see :meth:`forward`).
        **kwargs: the wrapped head's arguments (``in_channels``, ``in_index``, ``channels``, ``num_classes``,
            ``decoder_params``, ``dilations``, ``loss_decode``...); the ``BaseDecodeHead`` ones also configure the
            loss and the label handling here.
    """

    def __init__(self, single_scale_head, attention_classwise=True, attention_embed_dim=256, hr_loss_weight=0.0,
                 lr_loss_weight=0.0, scale_attention_cfg=None, output='fused', **kwargs):
        if not isinstance(single_scale_head, str) or MODELS.get(single_scale_head) is None:
            raise UserError(f'HRDAHead: single_scale_head {single_scale_head!r} is not a registered decode head '
                            '(e.g. DAFormerHead, DLV2Head)')
        if hr_loss_weight < 0 or lr_loss_weight < 0 or hr_loss_weight + lr_loss_weight > 1:
            raise UserError(f'HRDAHead: hr_loss_weight ({hr_loss_weight}) and lr_loss_weight ({lr_loss_weight}) '
                            'must be >= 0 and sum to at most 1')
        base = {k: v for k, v in kwargs.items() if k in _BASE_ARGS}
        base.setdefault('channels', 1)  # unused here; DLV2Head configs do not give it
        multiple = isinstance(base.get('in_channels'), (list, tuple))
        super().__init__(input_transform='multiple_select' if multiple else None, dropout_ratio=0, init_cfg=None,
                         **base)
        # The fusion has no classifier of its own: both predictions come from the wrapped heads.
        del self.conv_seg
        # mmseg thresholds single-channel outputs (here only the attention map) with it.
        self.threshold = 0.5 if self.threshold is None else self.threshold
        head_cfg = dict(type=single_scale_head, **copy.deepcopy(kwargs))
        attn_cfg = (dict(type=single_scale_head, **copy.deepcopy(scale_attention_cfg)) if scale_attention_cfg
                    else attention_head_cfg(head_cfg, attention_classwise, attention_embed_dim))
        self.head = MODELS.build(head_cfg)
        self.scale_attention = MODELS.build(attn_cfg)
        self.hr_loss_weight = hr_loss_weight
        self.lr_loss_weight = lr_loss_weight
        self.output = output

    @property
    def output(self):
        """What ``forward`` returns: one of :data:`OUTPUTS`."""
        return self._output

    @output.setter
    def output(self, value):
        if value not in OUTPUTS:
            raise UserError(f'HRDA output must be one of {", ".join(OUTPUTS)}, got {value!r}')
        self._output = value

    def forward_outputs(self, inputs):
        """Every prediction of the head.

        Args:
            inputs (list): ``[lr_feats, hr]`` as in the class docstring.

        Returns:
            dict[str, Tensor]: over the whole image at the HR logits' resolution [N, C, h, w]: ``fused``, ``lr``
            (the context prediction upsampled), ``hr`` (pasted windows, 0 where none) and ``att`` (the scale
            attention, [N, C or 1, h, w]); and ``hr_windows`` [K * N, C, h', w'], the HR logits of each crop.
        """
        lr_feats, hr = inputs
        lr_logits = self.head(lr_feats)
        att = torch.sigmoid(self.scale_attention(lr_feats))
        hr_windows = self.head(hr['features'])
        hr_logits, count = paste_windows(hr_windows, hr['boxes'], hr['image_size'])
        covered = box_mask(hr['boxes'][0], hr['image_size'], att.shape[-2:], att)
        for box in hr['boxes'][1:]:
            covered = torch.maximum(covered, box_mask(box, hr['image_size'], att.shape[-2:], att))
        att = att * covered
        context = (1 - att) * lr_logits

        def upsample(x):
            return resize(x, size=hr_logits.shape[-2:], mode='bilinear', align_corners=self.align_corners)

        # Masked again at the HR resolution: bilinear upsampling would leak attention one cell past the crop.
        att = upsample(att) * (count > 0)
        fused = att * hr_logits + upsample(context)
        return dict(fused=fused, lr=upsample(lr_logits), hr=hr_logits, att=att, hr_windows=hr_windows)

    def forward(self, inputs):
        """The prediction selected by :attr:`output`: logits [N, C, h, w], or for ``'att'`` [N, 1, h, w] the
        attention of the predicted classes (sum over classes of attention x fused softmax) as logits: mmseg's
        post-processing turns it back into the attention (sigmoid) and marks where the detail branch dominates
        (> 0.5) as class 1."""
        out = self.forward_outputs(inputs)
        if self.output != 'att':
            return out[self.output]
        att = (out['att'] * torch.softmax(out['fused'], dim=1)).sum(dim=1, keepdim=True)
        return torch.logit(att, eps=1e-6)

    def loss_by_label(self, inputs, seg_label, seg_weight=None):
        """Fused loss plus the detail crop's own loss on the cropped labels.

        Args:
            inputs (list): ``[lr_feats, hr]`` with exactly one HR box, the detail crop.
            seg_label (Tensor): labels of the full-resolution image [N, 1, H, W] or [N, H, W].
            seg_weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W] (pseudo-label confidence).

        Returns:
            dict[str, Tensor]: the loss(es) of ``loss_decode`` and ``acc_seg`` for the fusion, ``hr.*`` for the
            detail crop and ``lr.*`` for the context (when their weights are > 0).
        """
        hr = inputs[1]
        if len(hr['boxes']) != 1:
            raise ValueError(f'HRDA training takes one detail crop, got {len(hr["boxes"])} HR boxes')
        if tuple(seg_label.shape[-2:]) != tuple(hr['image_size']):
            raise ValueError(f'labels of size {tuple(seg_label.shape[-2:])} do not match the full-resolution image '
                             f'{tuple(hr["image_size"])}')
        out = self.forward_outputs(inputs)
        losses = self.label_losses(out['fused'], seg_label, seg_weight, 1 - self.hr_loss_weight - self.lr_loss_weight)
        if self.hr_loss_weight > 0:
            box = hr['boxes'][0]
            weight = None if seg_weight is None else crop(seg_weight, box)
            losses.update(add_prefix(
                self.label_losses(out['hr_windows'], crop(seg_label, box), weight, self.hr_loss_weight), 'hr'))
        if self.lr_loss_weight > 0:
            # On the context head's own prediction (not weighted by the attention).
            losses.update(add_prefix(self.label_losses(out['lr'], seg_label, seg_weight, self.lr_loss_weight), 'lr'))
        return losses
