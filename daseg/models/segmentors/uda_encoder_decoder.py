"""mmseg's EncoderDecoder with the two calls that the UDA parts make of any student or teacher.

Every segmentor a UDA wrapper trains answers ``loss_by_label(img, label, weight)`` (losses and the features the
feature distance compares) and ``pseudo_logits(img, metas)`` (the prediction a teacher turns into pseudo-labels),
so no UDA part asks which kind of segmentor it has. :class:`HRDAEncoderDecoder` answers them at several
resolutions. A UDA config whose segmentor is a plain ``EncoderDecoder`` gets this class (same modules, keys and
inference).

Loading a checkpoint into it (``load_state_dict``, or mmengine's ``load_checkpoint`` as in ``mmseg.apis``) takes
the student of a UDA or merged checkpoint and refuses weights that do not fit, see :mod:`.student_weights`.
"""
import inspect

import torch
import torch.nn as nn
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from daseg.errors import UserError
from .student_weights import take_student

# The calls through which the UDA parts train the student (see UDAEncoderDecoder.route_calls).
ROUTED_CALLS = ('loss_by_label', 'train_features', 'logits_and_features')


@MODELS.register_module()
class UDAEncoderDecoder(EncoderDecoder):
    """EncoderDecoder with :meth:`loss_by_label` and :meth:`pseudo_logits`; its decode and auxiliary heads must
    offer ``loss_by_label`` (every head of this package does)."""

    # Tensor-only methods (no host reads, no Python randomness) that ``--compile`` may replace by compiled ones.
    COMPILED = ('loss_by_label', 'pseudo_logits', 'extract_feat')

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for _, head in self.labelled_heads():
            if not callable(getattr(head, 'loss_by_label', None)):
                raise UserError(f'{type(self).__name__}: head {type(head).__name__} cannot train on pseudo-labels '
                                '(no loss_by_label); use a head of this package, e.g. DAFormerHead, DLV2Head, '
                                'UPerLabelHead or FCNLabelHead')

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

    def forward(self, inputs, data_samples=None, mode='tensor', **kwargs):
        """mmseg's modes, and a routed call (:meth:`route_calls`): ``mode='loss_by_label'`` with keyword arguments."""
        if mode in ROUTED_CALLS:
            return self.__dict__.get('_unrouted', {}).get(mode, getattr(self, mode))(inputs, **kwargs)
        return super().forward(inputs, data_samples, mode)

    def route_calls(self, entry) -> None:
        """Send the training calls (``loss_by_label``) through ``entry(inputs, mode=<name>, **kwargs)``, a wrapper
        whose forward ends in this module's :meth:`forward`: torch's DistributedDataParallel hooks only forward
        calls, and must see every forward pass whose backward pass it synchronises. What was in place of each call
        (the method, or a compiled one, see ``COMPILED``) is what ``forward`` then runs."""
        unrouted = self.__dict__.setdefault('_unrouted', {})
        for name in ROUTED_CALLS:
            unrouted.setdefault(name, getattr(self, name))
            names = list(inspect.signature(getattr(type(self), name)).parameters)[2:]  # after self and inputs

            def routed(inputs, *args, _name=name, _names=names, **kwargs):
                return entry(inputs, mode=_name, **dict(zip(_names, args)), **kwargs)
            # An instance attribute, not a submodule: the wrapper holds this module.
            self.__dict__[name] = routed

    def loss_by_label(self, inputs, seg_label, seg_weight=None, feature_transform=None):
        """Losses of the decode head against labels and optional pixel weights.

        Args:
            inputs (Tensor): images [N, 3, H, W].
            seg_label (Tensor): labels [N, H, W] or [N, 1, H, W] at the image size.
            seg_weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W].
            feature_transform (callable, optional): maps the backbone's list of maps to the head's input (e.g.
                MRM's Rebuilder); applied to every map list the head reads.

        Returns:
            tuple[dict[str, Tensor], list[Tensor]]: losses prefixed ``decode.`` (and ``aux.`` for the auxiliary
            heads, as mmseg's ``loss``) and the backbone maps (after the neck, if any).
        """
        feats = self.extract_feat(inputs)
        head_input = feats if feature_transform is None else feature_transform(feats)
        losses = {}
        for name, head in self.labelled_heads():
            losses.update(add_prefix(head.loss_by_label(head_input, seg_label, seg_weight), name))
        return losses, feats

    def labelled_heads(self):
        """(log prefix, head) of the decode head and the auxiliary heads, with mmseg's prefixes."""
        aux = self.auxiliary_head if self.with_auxiliary_head else nn.ModuleList()
        aux = list(aux) if isinstance(aux, nn.ModuleList) else [aux]
        return [('decode', self.decode_head)] + [(f'aux_{i}' if len(aux) > 1 else 'aux', head)
                                                  for i, head in enumerate(aux)]

    def train_features(self, inputs):
        """The backbone maps (:meth:`extract_feat`) for a loss on features alone (e.g. ``FeatureMMD``): a routed call
        (see :meth:`route_calls`), unlike ``extract_feat``, which :meth:`loss_by_label` calls inside its own."""
        return self.extract_feat(inputs)

    def logits_and_features(self, inputs):
        """Logits and the decode head's last features (DDB's prototypes and their weights), both bilinearly resized
        to the image size, float32. A routed call (:meth:`route_calls`): a loss on the student's logits may use it.

        Args:
            inputs (Tensor): images [N, 3, H, W].

        Returns:
            tuple[Tensor, Tensor]: logits [N, K, H, W] and features [N, C, H, W].
        """
        head = self.decode_head
        if not callable(getattr(head, 'forward_with_features', None)):
            raise UserError(f'{type(self).__name__}: decode head {type(head).__name__} gives no features for '
                            'prototypes (no forward_with_features); use DLV2AdapterHead')
        logits, features = head.forward_with_features(self.extract_feat(inputs))
        return tuple(resize(t.float(), size=inputs.shape[2:], mode='bilinear', align_corners=self.align_corners)
                     for t in (logits, features))

    def pseudo_logits(self, inputs, batch_img_metas=None):
        """Logits [N, C, H, W] at the image size, float32 (softmax confidences are thresholded near 1)."""
        logits = self.decode_head(self.extract_feat(inputs)).float()
        return resize(logits, size=inputs.shape[2:], mode='bilinear', align_corners=self.align_corners)


def stacked_labels(data_samples) -> torch.Tensor:
    """The ground-truth maps of a batch as one [N, H, W] long tensor."""
    return torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
