"""Class-wise median confidence thresholds for union-set pseudo-labels, over a whole target training set.

The original collects the confidence of every pixel of the target set, and for each class c sorts the
confidences of the pixels predicted c and takes the element at index round(0.5 * N_c) (Python's round, half to
even) as t_c, capped at 0.9; a pixel with conf < t_{label} becomes 255. Here the confidences are counted in a
per-class histogram of ``bins`` quantisation levels, q = round(conf * (bins - 1)), so memory does not grow with
the data set; the threshold is the same order statistic read from the cumulative histogram, exact for
confidences on the grid k / (bins - 1) and within half a level (7.6e-6 for 65536 bins) otherwise.
"""
import numpy as np
import torch

from daseg.classes import IGNORE_INDEX
from daseg.errors import UserError

DEFAULT_BINS = 65536


def _check_bins(bins: int):
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f'bins must be an integer >= 2, got {bins!r}')


def _as_tensor(x):
    """(tensor, was_numpy): numpy input is viewed as a CPU tensor (no copy)."""
    if isinstance(x, torch.Tensor):
        return x, False
    array = np.asarray(x)
    if any(stride < 0 for stride in array.strides):  # from_numpy refuses reversed views
        array = array.copy()
    return torch.from_numpy(array), True


def _like_input(x: torch.Tensor, was_numpy: bool):
    return x.numpy() if was_numpy else x


def quantise(conf, bins: int = DEFAULT_BINS):
    """Confidence -> level q = round(conf * (bins - 1)), half to even, computed in float64, clipped to the range.

    Args:
        conf (Tensor | np.ndarray): confidences in [0, 1], any shape.
        bins (int): number of levels. Default 65536.

    Returns:
        Tensor | np.ndarray: int64 levels 0..bins-1, the shape of ``conf``; a tensor on its device for a
        tensor, an array for an array.
    """
    _check_bins(bins)
    conf, was_numpy = _as_tensor(conf)
    q = torch.round(conf.double() * (bins - 1)).long().clamp_(0, bins - 1)
    return _like_input(q, was_numpy)


def dequantise(q, bins: int = DEFAULT_BINS):
    """Level -> confidence q / (bins - 1) as float32 (divided in float64), so that ``quantise`` returns q.

    Args:
        q (Tensor | np.ndarray): integer levels, any shape.
        bins (int): number of levels. Default 65536.

    Returns:
        Tensor | np.ndarray: float32, the shape and kind of ``q``.
    """
    _check_bins(bins)
    q, was_numpy = _as_tensor(q)
    return _like_input((q.double() / (bins - 1)).float(), was_numpy)


def _host_array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


class ConfidenceHistogram:
    """Per-class histogram of quantised pseudo-label confidences, for class-wise median thresholds.

    Args:
        num_classes (int): number of classes. Default 19.
        bins (int): quantisation levels of the confidence. Default 65536 (10 MB of int64 counts for 19 classes).
    """

    def __init__(self, num_classes: int = 19, bins: int = DEFAULT_BINS):
        _check_bins(bins)
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive integer, got {num_classes!r}')
        self.num_classes = int(num_classes)
        self.bins = int(bins)
        self.updates = 0  # number of add() calls, e.g. images counted, for resuming
        self._counts = np.zeros((self.num_classes, self.bins), dtype=np.int64)

    @property
    def counts(self) -> np.ndarray:
        """[num_classes, bins] int64: pixels of each class (predicted label) at each confidence level."""
        return self._counts

    @property
    def num_pixels(self) -> np.ndarray:
        """[num_classes] int64: pixels counted per class, N_c."""
        return self._counts.sum(axis=1)

    def add(self, label, conf) -> None:
        """Count the pixels of a batch of pseudo-labels.

        Args:
            label (Tensor | np.ndarray): predicted classes, any shape, values 0..num_classes-1; pixels labelled
                255 are skipped.
            conf (Tensor | np.ndarray): their confidences in [0, 1], the same shape.
        """
        label, conf = _host_array(label), _host_array(conf)
        if label.shape != conf.shape:
            raise ValueError(f'label {label.shape} and conf {conf.shape} must have the same shape')
        label = label.reshape(-1).astype(np.int64)
        counted = label != IGNORE_INDEX
        label, conf = label[counted], conf.reshape(-1)[counted].astype(np.float64)
        if label.size and (label.min() < 0 or label.max() >= self.num_classes):
            raise ValueError(f'labels must be 0..{self.num_classes - 1} or {IGNORE_INDEX}, '
                             f'got values {label.min()}..{label.max()}')
        if not np.all((conf >= 0) & (conf <= 1)):
            raise ValueError('confidences must lie in [0, 1] (found a value outside or NaN)')
        flat = label * self.bins + quantise(conf, self.bins)
        self._counts += np.bincount(flat, minlength=self.num_classes * self.bins).reshape(self._counts.shape)
        self.updates += 1

    def thresholds(self, cap: float = 0.9) -> np.ndarray:
        """Class-wise thresholds: the sorted confidence at index round(0.5 * N_c), capped.

        A class with no pixel gets threshold 0 (any future pixel of it is kept).

        Args:
            cap (float, optional): upper bound of every threshold; None for none. Default 0.9.

        Returns:
            np.ndarray: [num_classes] float32, each a dequantised level (or the cap).
        """
        num = self.num_pixels
        index = np.rint(0.5 * num)  # half to even, as Python's round
        # The element at sorted position i is at the first level whose cumulative count exceeds i.
        level = (np.cumsum(self._counts, axis=1) <= index[:, None]).sum(axis=1)
        thresholds = np.where(num > 0, dequantise(level, self.bins), np.float32(0)).astype(np.float32)
        if cap is not None:
            thresholds = np.minimum(thresholds, np.float32(cap))
        return thresholds

    def merge(self, other: 'ConfidenceHistogram') -> 'ConfidenceHistogram':
        """Add another histogram's counts (e.g. another process's) to this one; returns self."""
        if (other.num_classes, other.bins) != (self.num_classes, self.bins):
            raise ValueError(f'cannot merge a histogram of {other.num_classes} classes x {other.bins} bins into '
                             f'one of {self.num_classes} x {self.bins}')
        self._counts += other.counts
        self.updates += other.updates
        return self

    def state(self) -> dict:
        """A plain dict (ints and one numpy array, a copy) to save, for :meth:`from_state`."""
        return dict(num_classes=self.num_classes, bins=self.bins, updates=self.updates,
                    counts=self._counts.copy())

    @classmethod
    def from_state(cls, state: dict) -> 'ConfidenceHistogram':
        """Restore a histogram saved with :meth:`state` (e.g. to resume a killed pseudo-labelling run)."""
        keys = ('num_classes', 'bins', 'updates', 'counts')
        if not isinstance(state, dict) or any(k not in state for k in keys):
            raise UserError(f'confidence histogram state must be a dict with keys {", ".join(keys)}')
        hist = cls(int(state['num_classes']), int(state['bins']))
        counts = np.asarray(state['counts'])
        if counts.shape != hist.counts.shape or not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
            raise UserError(f'confidence histogram state: counts must be non-negative integers of shape '
                            f'{hist.counts.shape}, got {counts.dtype} {counts.shape}')
        hist._counts[...] = counts
        hist.updates = int(state['updates'])
        return hist


def apply_thresholds(label, conf, thresholds, bins: int = DEFAULT_BINS):
    """Drop pseudo-labels below their class threshold: conf < t_label -> 255, conf >= t_label kept.

    Both sides are compared as :func:`quantise` levels, so a pixel whose confidence is the threshold (the
    median) is kept, as in the original.

    Args:
        label (Tensor | np.ndarray): classes, any shape; 255 (or any value outside the thresholds) becomes 255.
        conf (Tensor | np.ndarray): confidences in [0, 1], the same shape.
        thresholds (np.ndarray | Sequence[float]): [num_classes] from :meth:`ConfidenceHistogram.thresholds`.
        bins (int): the histogram's levels. Default 65536.

    Returns:
        Tensor | np.ndarray: a new label of the kind, shape, dtype (and device) of ``label``.
    """
    label, was_numpy = _as_tensor(label)
    conf = _as_tensor(conf)[0].to(label.device)
    if label.shape != conf.shape:
        raise ValueError(f'label {tuple(label.shape)} and conf {tuple(conf.shape)} must have the same shape')
    levels = quantise(torch.as_tensor(np.asarray(thresholds, dtype=np.float32), device=label.device), bins)
    labelled = (label >= 0) & (label < len(levels))
    needed = levels[label.long().clamp(0, len(levels) - 1)]
    keep = labelled & (quantise(conf, bins) >= needed)
    return _like_input(torch.where(keep, label, torch.full_like(label, IGNORE_INDEX)), was_numpy)
