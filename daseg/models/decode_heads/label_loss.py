"""Losses of a decode head against a label map and optional pixel weights: the call every UDA part makes.

mmseg's ``BaseDecodeHead.loss`` reads the labels from data samples and takes no pixel weights, so self-training
needs another path for pseudo-labels; this mixin gives every head of the package one path for both, through the
head's configured ``loss_decode`` (loss weights and extra losses in a config apply to pseudo-labels too) and with
the accuracy computed without a host synchronisation (:func:`daseg.models.utils.accuracy`).
"""
import torch.nn as nn
from mmseg.models.utils import resize

from ..utils.accuracy import accuracy


class LabelLossMixin:
    """For subclasses of mmseg's ``BaseDecodeHead``: ``loss`` and ``loss_by_label`` over ``loss_decode``."""

    def loss(self, inputs, batch_data_samples, train_cfg=None):
        """Losses against the ground truth of ``batch_data_samples`` (see :meth:`loss_by_label`)."""
        return self.loss_by_label(inputs, self._stack_batch_gt(batch_data_samples))

    def loss_by_label(self, inputs, seg_label, seg_weight=None):
        """Losses of the head's prediction on ``inputs``.

        Args:
            inputs: the head's input (the backbone's list of maps).
            seg_label (Tensor): labels [N, H, W] or [N, 1, H, W].
            seg_weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W].

        Returns:
            dict[str, Tensor]: each ``loss_decode`` loss and ``acc_seg``.
        """
        return self.label_losses(self.forward(inputs), seg_label, seg_weight)

    def label_losses(self, logits, label, weight=None, scale=1.0):
        """``loss_decode`` of ``logits`` bilinearly resized to the labels, times ``scale``, and the accuracy.

        The losses equal mmseg's ``loss_by_feat`` for the same logits and labels (weight None); with a weight, each
        pixel's loss is multiplied by it (mmseg's ``CrossEntropyLoss`` then divides by all pixels unless
        ``avg_non_ignore``, the mmseg 0.16 semantics the original loss weights were tuned with).
        """
        logits = resize(logits, size=label.shape[-2:], mode='bilinear', align_corners=self.align_corners)
        label = (label.squeeze(1) if label.dim() == 4 else label).long()
        if weight is not None:
            weight = (weight.squeeze(1) if weight.dim() == 4 else weight).float()
        elif self.sampler is not None:
            weight = self.sampler.sample(logits, label.unsqueeze(1))
        decoders = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses = {}
        for decoder in decoders:
            value = scale * decoder(logits, label, weight=weight, ignore_index=self.ignore_index)
            losses[decoder.loss_name] = losses.get(decoder.loss_name, 0) + value
        losses['acc_seg'] = accuracy(logits, label, ignore_index=self.ignore_index)
        return losses
