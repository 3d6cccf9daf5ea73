"""HRDA encoder-decoder: a low-resolution context and a high-resolution detail input through one backbone,
fused by :class:`~daseg.models.decode_heads.hrda_head.HRDAHead` (Hoyer et al., ECCV 2022).

Training sees the whole image at the context scale (0.5) and a random detail crop (``hr_crop_size``) of it at
full resolution. Inference sees the whole image at the context scale and the full-resolution image either whole or
as overlapping windows of ``hr_crop_size`` (stride half a window), all windows in one batch. On top of that, the
fused prediction can itself be computed by mmseg's sliding window (``test_cfg.mode='slide'``, HRDA: windows of
1024 with stride 512 on the full-size image), batched as well with ``batched_slide=True``.
"""
import torch
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from daseg.errors import UserError
from ..utils.boxes import crop, paste_windows, random_crop_box, sliding_window_boxes
from .uda_encoder_decoder import UDAEncoderDecoder


@MODELS.register_module()
class HRDAEncoderDecoder(UDAEncoderDecoder):
    """UDAEncoderDecoder with HRDA's multi-resolution training and inference.

    Args:
        scales (Sequence[float]): the context (LR) and detail (HR) scales, in any order; the detail scale must be
            1.0 (labels are cropped at input resolution). HRDA: ``[1, 0.5]``.
        hr_crop_size (int | tuple[int, int] | None): (h, w) of the training detail crop and of the inference
            windows on the HR image; None trains and predicts on the whole HR image.
        crop_coord_divisible (int): the detail crop's corner is a multiple of this (8 aligns the stride-4 HR logits
            with the stride-4 logits of the half-resolution context).
        hr_slide_inference (bool): predict the HR branch with overlapping windows at inference.
        hr_slide_overlapping (bool): window stride half a window (True) or a whole window.
        feature_scale (float): scale of the features :meth:`extract_feat` returns (ImageNet feature distance);
            only the context scale is supported, as in the final HRDA.
        **kwargs: ``EncoderDecoder`` arguments (``backbone``, ``decode_head`` of type ``HRDAHead``, ``neck``,
            ``train_cfg``, ``test_cfg``, ``data_preprocessor``, ``init_cfg``). ``test_cfg`` accepts
            ``batched_slide`` (all windows of ``mode='slide'`` in one batch).
    """

    # The detail crop's corner is a pair of Python ints drawn per step that the crops, the fusion and the label
    # crop slice with: compiled with static shapes, each corner would be a new graph. So the compiled units are
    # the backbone and the head's two single-scale networks; the crop, paste and fusion around them stay eager.
    COMPILED = ('extract_unscaled_feat', 'decode_head.head.forward', 'decode_head.scale_attention.forward')

    def __init__(self, scales=(1.0, 0.5), hr_crop_size=None, crop_coord_divisible=1, hr_slide_inference=True,
                 hr_slide_overlapping=True, feature_scale=0.5, **kwargs):
        if kwargs.get('auxiliary_head') is not None:
            raise UserError('HRDAEncoderDecoder: auxiliary_head is not supported')
        super().__init__(**kwargs)
        if not hasattr(self.decode_head, 'forward_outputs'):
            raise UserError(f'HRDAEncoderDecoder needs decode_head type HRDAHead, got '
                            f'{type(self.decode_head).__name__}')
        scales = sorted(float(s) for s in scales)
        if len(scales) != 2 or scales[1] != 1.0 or not 0 < scales[0] < 1:
            raise UserError(f'HRDAEncoderDecoder: scales must be a context scale in (0, 1) and the detail scale 1, '
                            f'e.g. [1, 0.5]; got {sorted(scales)}')
        self.lr_scale, self.hr_scale = scales
        if feature_scale != self.lr_scale:
            raise UserError(f'HRDAEncoderDecoder: feature_scale must be the context scale {self.lr_scale}, got '
                            f'{feature_scale!r}')
        if hr_crop_size is not None:
            hr_crop_size = (hr_crop_size, hr_crop_size) if isinstance(hr_crop_size, int) else tuple(hr_crop_size)
            if len(hr_crop_size) != 2 or not all(isinstance(v, int) and v > 0 for v in hr_crop_size):
                raise UserError(f'HRDAEncoderDecoder: hr_crop_size must be a positive int or (h, w), got '
                                f'{hr_crop_size!r}')
        if not isinstance(crop_coord_divisible, int) or crop_coord_divisible < 1:
            raise UserError(f'HRDAEncoderDecoder: crop_coord_divisible must be a positive int, got '
                            f'{crop_coord_divisible!r}')
        self.hr_crop_size = hr_crop_size
        self.crop_coord_divisible = crop_coord_divisible
        self.hr_slide_inference = hr_slide_inference and hr_crop_size is not None
        self.hr_slide_overlapping = hr_slide_overlapping
        self.feature_scale = feature_scale

    # -- features --------------------------------------------------------------------------------------

    def extract_unscaled_feat(self, inputs):
        """Backbone (and neck) maps of ``inputs`` as they are."""
        return super().extract_feat(inputs)

    def extract_feat(self, inputs):
        """Backbone maps of the image at ``feature_scale`` (the context), e.g. for the feature distance."""
        return self.extract_unscaled_feat(self._rescale(inputs, self.feature_scale))

    def multires_features(self, inputs, detail_box=None):
        """The decode head's input: context features and full-resolution crop features.

        Args:
            inputs (Tensor): images [N, 3, H, W].
            detail_box (tuple[int, int, int, int], optional): the training detail crop in pixels of the image;
                None for inference (sliding windows or the whole image, see ``hr_slide_inference``).

        Returns:
            list: ``[lr_feats, {'features', 'boxes', 'image_size'}]`` (see ``HRDAHead``).
        """
        lr_feats = self.extract_unscaled_feat(self._rescale(inputs, self.lr_scale))
        image_size = tuple(int(s) for s in inputs.shape[-2:])  # ints also when traced
        if detail_box is not None:
            boxes = [detail_box]
        elif self.hr_slide_inference:
            stride = self.hr_crop_size if not self.hr_slide_overlapping else tuple(s // 2 for s in self.hr_crop_size)
            boxes = sliding_window_boxes(*image_size, self.hr_crop_size, stride)
        else:
            boxes = [(0, image_size[0], 0, image_size[1])]
        windows = torch.cat([crop(inputs, box) for box in boxes]) if len(boxes) > 1 else crop(inputs, boxes[0])
        hr = dict(features=self.extract_unscaled_feat(windows), boxes=boxes, image_size=image_size)
        return [lr_feats, hr]

    def random_detail_box(self, inputs):
        """A random training detail crop of ``inputs`` [N, 3, H, W] (torch's global generator)."""
        height, width = inputs.shape[-2:]
        if self.hr_crop_size is None:
            return 0, height, 0, width
        return random_crop_box(height, width, self.hr_crop_size, self.crop_coord_divisible)

    # -- training --------------------------------------------------------------------------------------

    def loss(self, inputs, data_samples):
        """HRDA losses (``decode.*``) on a batch with ground truth in ``data_samples``."""
        return self.loss_by_label(inputs, torch.stack([s.gt_sem_seg.data for s in data_samples]))[0]

    def loss_by_label(self, inputs, seg_label, seg_weight=None, feature_transform=None):
        """HRDA losses on one random detail crop, and the context features (for the feature distance).

        Args:
            inputs (Tensor): images [N, 3, H, W].
            seg_label (Tensor): labels [N, H, W] or [N, 1, H, W] (ground truth or mixed pseudo-labels).
            seg_weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W].
            feature_transform (callable, optional): maps a list of backbone maps to the head's input; applied to
                the context maps and to the detail crop's maps separately (e.g. MRM rebuilds both).

        Returns:
            tuple[dict[str, Tensor], list[Tensor]]: losses prefixed ``decode.`` and the context backbone maps.
        """
        feats = self.multires_features(inputs, self.random_detail_box(inputs))
        head_input = feats
        if feature_transform is not None:
            lr_feats, hr = feats
            head_input = [feature_transform(lr_feats), dict(hr, features=feature_transform(hr['features']))]
        losses = self.decode_head.loss_by_label(head_input, seg_label, seg_weight)
        return add_prefix(losses, 'decode'), feats[0]

    def pseudo_logits(self, inputs, batch_img_metas=None):
        """The teacher's full multi-resolution prediction (detail branch by sliding windows), float32."""
        return self.encode_decode(inputs, batch_img_metas).float()

    # -- inference -------------------------------------------------------------------------------------

    def encode_decode(self, inputs, batch_img_metas=None):
        """Multi-resolution prediction of the decode head's ``output`` at the input size [N, C, H, W]."""
        logits = self.decode_head(self.multires_features(inputs))
        return resize(logits, size=inputs.shape[-2:], mode='bilinear', align_corners=self.align_corners)

    def _forward(self, inputs, data_samples=None):
        """The decode head's output at its own resolution (``mode='tensor'``)."""
        return self.decode_head(self.multires_features(inputs))

    def slide_inference(self, inputs, batch_img_metas):
        """mmseg's sliding window over the fused prediction; with ``test_cfg.batched_slide`` all windows of the
        batch go through the network at once and their logits are averaged where they overlap."""
        if not self.test_cfg.get('batched_slide', False):
            return super().slide_inference(inputs, batch_img_metas)
        image_size = tuple(int(s) for s in inputs.shape[-2:])  # ints also when traced
        boxes = sliding_window_boxes(*image_size, tuple(self.test_cfg.crop_size), tuple(self.test_cfg.stride))
        windows = torch.cat([crop(inputs, box) for box in boxes])
        logits, _ = paste_windows(self.encode_decode(windows, batch_img_metas), boxes, image_size)
        return logits

    def _rescale(self, inputs, scale):
        if scale == 1:
            return inputs
        return resize(inputs, scale_factor=scale, mode='bilinear', align_corners=self.align_corners)
