"""DDB's class prototypes (reference/ORIGINALS_2.md sections 4.3 and 4.4): their running mean over a teacher's
predictions, their file, the pixel weights they give, and the rectified two-teacher ensemble. Tensor maths only.

* :class:`PrototypeAccumulator`: per image and class c predicted (argmax) on at least ``min_pixels`` pixels, the
  mean feature ``v`` over those pixels updates ``mu_c <- (mu_c * n_c + v) / (n_c + 1)``, then
  ``n_c <- min(n_c + 1, cap)``: a plain mean until ``cap`` images, then an EMA with weight ``1 / (cap + 1)``.
* :func:`prototype_weights`: ``w_c(x) = softmax_c(-||f(x) - mu_c||_2)``, DDB's ``softmax(-(d - min d))``.
* :func:`rectified_ensemble`: the mean over teachers of ``w * p``, DDB's pseudo-label distribution.
"""
import json
import os.path as osp

import torch
import torch.nn.functional as F

from ...errors import UserError
from ...weights import load_checkpoint_file, save_checkpoint_atomic

# Written into every prototype file, and required when reading one.
FORMAT = 'daseg-prototypes-1'


class PrototypeAccumulator:
    """Running class means of features, updated image by image (see the module docstring).

    Args:
        num_classes (int): K.
        channels (int): C, the feature width.
        min_pixels (int): pixels a class must be predicted on in an image to count. Default 10 (DDB).
        cap (int): largest count ``n_c``; afterwards each image weighs ``1 / (cap + 1)``. Default 3000 (DDB).

    Attributes:
        prototypes (Tensor): [K, C] float32; zero for a class that never counted.
        counts (Tensor): [K] long, ``n_c``; 0 for a class without a prototype (:attr:`missing`).
    """

    def __init__(self, num_classes: int, channels: int, min_pixels: int = 10, cap: int = 3000):
        if min(num_classes, channels, min_pixels, cap) < 1:
            raise UserError(f'PrototypeAccumulator: num_classes, channels, min_pixels and cap must be >= 1, got '
                            f'{num_classes}, {channels}, {min_pixels}, {cap}')
        self.num_classes, self.channels, self.min_pixels, self.cap = num_classes, channels, min_pixels, cap
        self.prototypes = torch.zeros(num_classes, channels)
        self.counts = torch.zeros(num_classes, dtype=torch.long)

    @property
    def missing(self) -> list:
        """The classes that never got a prototype (count 0)."""
        return torch.nonzero(self.counts == 0).flatten().tolist()

    @torch.no_grad()
    def update(self, features: torch.Tensor, logits_or_pred: torch.Tensor) -> None:
        """Add a batch, image after image.

        Args:
            features (Tensor): [N, C, H, W].
            logits_or_pred (Tensor): logits [N, K, H, W] (their argmax is taken, no confidence threshold) or a
                label map [N, H, W] (values outside [0, K), e.g. 255, count for no class), at the features' size.
        """
        pred = logits_or_pred.argmax(dim=1) if logits_or_pred.dim() == 4 else logits_or_pred
        n, c = features.shape[:2]
        if c != self.channels or pred.shape != (n, *features.shape[2:]):
            raise UserError(f'PrototypeAccumulator: features {tuple(features.shape)} and predictions '
                            f'{tuple(logits_or_pred.shape)} do not match {self.channels} channels at one size')
        self.prototypes = self.prototypes.to(features.device)
        self.counts = self.counts.to(features.device)
        classes = torch.arange(self.num_classes, device=pred.device)
        for feature, label in zip(features.float().flatten(2), pred.flatten(1)):
            members = (label[None] == classes[:, None]).float()  # [K, HW]
            pixels = members.sum(dim=1)
            mean = (members @ feature.T) / pixels.clamp(min=1)[:, None]  # [K, C]
            # As the original: a class on too few pixels, or whose mean vector sums to 0, is skipped.
            counted = (pixels >= self.min_pixels) & (mean.sum(dim=1) != 0)
            n_c = self.counts.float()[:, None]
            updated = (self.prototypes * n_c + mean) / (n_c + 1)
            self.prototypes = torch.where(counted[:, None], updated, self.prototypes)
            self.counts = torch.where(counted, (self.counts + 1).clamp(max=self.cap), self.counts)

    def state_dict(self) -> dict:
        """Tensors and settings (CPU), for saving or resuming."""
        return dict(prototypes=self.prototypes.cpu(), counts=self.counts.cpu(), min_pixels=self.min_pixels,
                    cap=self.cap)

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (shapes must match)."""
        if tuple(state['prototypes'].shape) != (self.num_classes, self.channels):
            raise UserError(f'prototypes of shape {tuple(state["prototypes"].shape)}, expected '
                            f'({self.num_classes}, {self.channels})')
        self.prototypes = state['prototypes'].float().clone()
        self.counts = state['counts'].long().clone()
        self.min_pixels, self.cap = int(state['min_pixels']), int(state['cap'])


def save_prototypes(path: str, accumulator: PrototypeAccumulator, provenance: dict, overwrite: bool = False) -> None:
    """Write the prototypes atomically, as data only (loadable with ``weights_only=True``).

    Args:
        path (str): the ``.pth`` file.
        accumulator (PrototypeAccumulator): what to save.
        provenance (dict): JSON-like data recorded with them (teacher checkpoint, dataset, epochs...).
        overwrite (bool): replace an existing file; otherwise that is a UserError.
    """
    try:
        provenance = json.loads(json.dumps(provenance))
    except (TypeError, ValueError) as exc:
        raise UserError(f'{path}: the provenance of prototypes must be plain data (JSON-like): {exc}') from None
    save_checkpoint_atomic(dict(format=FORMAT, provenance=provenance, **accumulator.state_dict()), path,
                           overwrite=overwrite)


def load_prototypes(path: str, num_classes: int = None, channels: int = None):
    """Read a file of :func:`save_prototypes` (weights only).

    Args:
        path (str): the file.
        num_classes (int, optional): K it must have.
        channels (int, optional): C it must have (the feature width of the model that uses them).

    Returns:
        tuple[Tensor, Tensor, dict]: prototypes [K, C] float32, counts [K] long (0: no prototype), provenance.

    Raises:
        UserError: a missing file, one that is no prototype file, or prototypes of another shape.
    """
    if not osp.isfile(path):
        raise UserError(f'prototype file not found: {path}')
    data = load_checkpoint_file(path)
    if data.get('format') != FORMAT or not torch.is_tensor(data.get('prototypes')):
        raise UserError(f'{path} is not a prototype file of this project (no format {FORMAT!r}); write one with '
                        'daseg.models.ddb.save_prototypes')
    prototypes, counts = data['prototypes'].float(), data['counts'].long()
    expected = (num_classes or prototypes.shape[0], channels or prototypes.shape[-1])
    if prototypes.dim() != 2 or tuple(prototypes.shape) != expected or tuple(counts.shape) != expected[:1]:
        raise UserError(f'{path} holds prototypes of shape {tuple(prototypes.shape)}, the model needs {expected} '
                        '(classes, feature channels): computed with another model?')
    return prototypes, counts, data.get('provenance', {})


def prototype_weights(features: torch.Tensor, prototypes: torch.Tensor, present: torch.Tensor = None) -> torch.Tensor:
    """DDB's prototype weights: ``softmax_c(-||f - mu_c||_2)`` per pixel (DDB subtracts the smallest distance
    first, which softmax ignores).

    Classes without a prototype: with ``present``, they get weight 0 and the softmax runs over the others (their
    rectified probability is then 0: no evidence for them); without, every row counts, as the original, where a
    missing prototype is a zero vector. At least one class must be present.

    Args:
        features (Tensor): [N, C, H, W].
        prototypes (Tensor): [K, C].
        present (Tensor, optional): [K] bool, the classes that have a prototype.

    Returns:
        Tensor: weights [N, K, H, W], float32, summing to 1 over K.
    """
    f, mu = features.float(), prototypes.float()
    # ||f - mu||^2 = |f|^2 - 2 f.mu + |mu|^2, without an [N, K, C, H, W] difference.
    squared = ((f * f).sum(dim=1, keepdim=True) - 2 * torch.einsum('nchw,kc->nkhw', f, mu)
               + (mu * mu).sum(dim=1)[None, :, None, None])
    logits = -squared.clamp(min=0).sqrt()
    if present is not None:
        logits = logits.masked_fill(~present.to(logits.device, torch.bool)[None, :, None, None], float('-inf'))
    return F.softmax(logits, dim=1)


def rectified_ensemble(probs, weights=None, renormalise: bool = False) -> torch.Tensor:
    """The mean over teachers of their rectified probabilities ``w * p`` (DDB: 0.5 / 0.5 for two, not
    renormalised).

    Args:
        probs (Sequence[Tensor]): per teacher, probabilities [N, K, H, W].
        weights (Sequence[Tensor | None] | None): per teacher, prototype weights [N, K, H, W] (None: 1).
        renormalise (bool): divide each rectified ``w * p`` by its sum over classes before the mean.

    Returns:
        Tensor: [N, K, H, W].
    """
    weights = weights if weights is not None else [None] * len(probs)
    if not probs or len(weights) != len(probs):
        raise ValueError(f'rectified_ensemble: {len(probs)} probability maps and {len(weights)} weight maps')
    total = 0
    for p, w in zip(probs, weights):
        rectified = p if w is None else p * w
        if renormalise:
            rectified = rectified / rectified.sum(dim=1, keepdim=True).clamp(min=torch.finfo(rectified.dtype).tiny)
        total = total + rectified
    return total / len(probs)
