"""Confusion-matrix accumulation and the segmentation metrics derived from it.

Conventions match mmseg's ``IoUMetric`` (and the mmseg 0.x evaluation of DAFormer/HRDA/MIC):

* IoU_c = TP / (TP + FP + FN). A class absent from both ground truth and prediction has no union: its IoU is
  NaN and it is left out of the mean. A class absent from the ground truth but predicted has IoU 0 and counts.
* mIoU is the mean over the classes with a defined IoU (``nanmean``); mAcc likewise over per-class accuracy
  TP / (TP + FN), which is NaN for classes absent from the ground truth.
* Pixels labelled ``ignore_index`` (255) are not counted. Other labels outside 0..C-1 are ignored too; mmseg
  would count the prediction on such pixels as a false positive, which never arises with trainId labels.
"""
import warnings

import numpy as np
import torch

from ..classes import IGNORE_INDEX


class ConfusionMatrix:
    """Accumulates a confusion matrix over images; rows are ground truth, columns predictions.

    Args:
        num_classes (int): C.
        ignore_index (int): label value that is not evaluated.
        device (str | torch.device): where counting happens (the model's device avoids copying predictions).
    """

    def __init__(self, num_classes, ignore_index=IGNORE_INDEX, device='cpu'):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)

    def update(self, pred, label):
        """Add one image.

        Args:
            pred (Tensor): (H, W) predicted class indices in 0..C-1.
            label (Tensor): (H, W) ground-truth trainIds at the same resolution.
        """
        if pred.shape != label.shape:
            raise ValueError(f'prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ in shape')
        num = self.num_classes
        label = label.reshape(-1).to(self._counts.device, torch.int64)
        pred = pred.reshape(-1).to(self._counts.device, torch.int64)
        valid = (label != self.ignore_index) & (label >= 0) & (label < num)
        label, pred = label[valid], pred[valid]
        if pred.numel() and (pred.min() < 0 or pred.max() >= num):
            raise ValueError(f'predictions must lie in 0..{num - 1}')
        self._counts += torch.bincount(label * num + pred, minlength=num * num)

    @property
    def matrix(self):
        """np.ndarray: (C, C) int64 counts, [ground truth, prediction]."""
        return self._counts.reshape(self.num_classes, self.num_classes).cpu().numpy()


def _divide(numerator, denominator):
    """Elementwise division that gives NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def iou_per_class(matrix):
    """Args: matrix (np.ndarray): (C, C) confusion matrix. Returns: np.ndarray (C,) IoU, NaN if no union."""
    tp = np.diag(matrix)
    return _divide(tp, matrix.sum(0) + matrix.sum(1) - tp)


def accuracy_per_class(matrix):
    """Args: matrix (np.ndarray): (C, C). Returns: np.ndarray (C,) TP / GT pixels, NaN if none in the GT."""
    return _divide(np.diag(matrix), matrix.sum(1))


def pixel_accuracy(matrix):
    """Args: matrix (np.ndarray): (C, C). Returns: float, correct / evaluated pixels (NaN if none)."""
    return float(_divide(np.trace(matrix), matrix.sum()))


def nanmean(values, classes=None):
    """Mean over the defined (non-NaN) values, optionally of a subset of classes.

    Args:
        values (np.ndarray): (C,) per-class values.
        classes (Sequence[int] | None): indices to average over, e.g. ``SYNTHIA_16``; None means all.

    Returns:
        float: the mean, NaN when no value is defined.
    """
    values = np.asarray(values, dtype=np.float64)
    if classes is not None:
        values = values[list(classes)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN slice: the answer is NaN
        return float(np.nanmean(values)) if values.size else float('nan')
