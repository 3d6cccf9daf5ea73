"""mmseg's EncoderDecoder with the two calls that the UDA parts make of any student or teacher.

Every segmentor a UDA wrapper trains answers ``loss_by_label(img, label, weight)`` (losses and the features the
feature distance compares) and ``pseudo_logits(img, metas)`` (the prediction a teacher turns into pseudo-labels),
so no UDA part asks which kind of segmentor it has. :class:`HRDAEncoderDecoder` answers them at several
resolutions. A UDA config whose segmentor is a plain ``EncoderDecoder`` gets this class (same modules, keys and
inference).

Loading a checkpoint into it (``load_state_dict``, or mmengine's ``load_checkpoint`` as in ``mmseg.apis``) takes
the student of a UDA or merged checkpoint and refuses weights that do not fit, see :mod:`.student_weights`.
"""
import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from daseg.errors import UserError
from .student_weights import take_student


@MODELS.register_module()
class UDAEncoderDecoder(EncoderDecoder):
    """EncoderDecoder with :meth:`loss_by_label` and :meth:`pseudo_logits`; its decode head must offer
    ``loss_by_label`` (every head of this package does)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not callable(getattr(self.decode_head, 'loss_by_label', None)):
            raise UserError(f'{type(self).__name__}: decode head {type(self.decode_head).__name__} cannot train on '
                            'pseudo-labels (no loss_by_label); use a head of this package, e.g. DAFormerHead or '
                            'DLV2Head')

    def load_state_dict(self, state_dict, strict=True, *args, **kwargs):
        """torch's ``load_state_dict``; ``strict=False`` loads part of the model (what the caller chose)."""
        self._partial_load = not strict
        try:
            return super().load_state_dict(state_dict, strict, *args, **kwargs)
        finally:
            self._partial_load = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Called on the whole state dict before the children read theirs. At the top (prefix ''), i.e. as the
        # loaded model and not as a sub-model of a UDA wrapper: the student of a UDA checkpoint, and strictly
        # unless torch's load_state_dict was asked for part (mmengine's load_checkpoint only warns).
        if not prefix:
            take_student(self.state_dict(), state_dict, type(self).__name__,
                         check=not getattr(self, '_partial_load', False))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss_by_label(self, inputs, seg_label, seg_weight=None, feature_transform=None):
        """Losses of the decode head against labels and optional pixel weights.

        Args:
            inputs (Tensor): images [N, 3, H, W].
            seg_label (Tensor): labels [N, H, W] or [N, 1, H, W] at the image size.
            seg_weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W].
            feature_transform (callable, optional): maps the backbone's list of maps to the head's input (e.g.
                MRM's Rebuilder); applied to every map list the head reads.

        Returns:
            tuple[dict[str, Tensor], list[Tensor]]: losses prefixed ``decode.`` and the backbone maps.
        """
        feats = self.extract_feat(inputs)
        head_input = feats if feature_transform is None else feature_transform(feats)
        losses = self.decode_head.loss_by_label(head_input, seg_label, seg_weight)
        return add_prefix(losses, 'decode'), feats

    def pseudo_logits(self, inputs, batch_img_metas=None):
        """Logits [N, C, H, W] at the image size, float32 (softmax confidences are thresholded near 1)."""
        logits = self.decode_head(self.extract_feat(inputs)).float()
        return resize(logits, size=inputs.shape[2:], mode='bilinear', align_corners=self.align_corners)


def stacked_labels(data_samples) -> torch.Tensor:
    """The ground-truth maps of a batch as one [N, H, W] long tensor."""
    return torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
