"""Per-target results and their summary over targets (arithmetic mean and the merging paper's harmonic mean H).

All numbers here are percentages; NaN marks an undefined value (e.g. a class absent from ground truth and
prediction).
"""
import math

from ..classes import CLASSES, SYNTHIA_16
from ..errors import UserError
from .metrics import accuracy_per_class, iou_per_class, nanmean, pixel_accuracy

# Keys of a target result that are averaged over targets.
SUMMARY_METRICS = ('mIoU', 'mIoU16')


def target_result(matrix, class_names, classes16=False, num_images=None):
    """Metrics of one checkpoint on one target.

    Args:
        matrix (np.ndarray): (C, C) confusion matrix, [ground truth, prediction]; any C.
        class_names (Sequence[str]): C names.
        classes16 (bool): add ``mIoU16``, the mean over Synthia's 16 classes (``SYNTHIA_16``); needs C = 19.
        num_images (int | None): recorded as is.

    Returns:
        dict: ``mIoU``, (``mIoU16``), ``aAcc``, ``mAcc``, per-class ``IoU`` and ``Acc`` (name -> value), in
        percent, plus ``num_images`` and ``confusion_matrix`` (nested lists of counts).
    """
    iou = iou_per_class(matrix) * 100
    acc = accuracy_per_class(matrix) * 100
    result = {'num_images': num_images, 'mIoU': nanmean(iou)}
    if classes16:
        if len(class_names) != len(CLASSES):  # SYNTHIA_16 are indices into the 19 Cityscapes classes
            raise UserError(f'eval_classes16 (the 16-class mIoU of Synthia) needs the {len(CLASSES)} Cityscapes '
                            f'classes; these targets have {len(class_names)}: set eval_classes16 = False')
        result['mIoU16'] = nanmean(iou, SYNTHIA_16)
    result.update({
        'aAcc': pixel_accuracy(matrix) * 100,
        'mAcc': nanmean(acc),
        'IoU': dict(zip(class_names, iou.tolist())),
        'Acc': dict(zip(class_names, acc.tolist())),
        'confusion_matrix': matrix.tolist(),
    })
    return result


def arithmetic_mean(values):
    """Args: values (Sequence[float]). Returns: float, their mean (NaN if empty or any is NaN)."""
    values = list(values)
    return sum(values) / len(values) if values else float('nan')


def harmonic_mean(values):
    """H = n / sum(1 / v): dominated by the weakest target, as in the model-merging paper.

    Args:
        values (Sequence[float]): non-negative scores.

    Returns:
        float: H; 0 when any value is 0, NaN if empty or any is NaN.
    """
    values = list(values)
    if not values or any(math.isnan(v) for v in values):
        return float('nan')
    if any(v <= 0 for v in values):
        return 0.0
    return len(values) / sum(1 / v for v in values)


def summarize_targets(targets):
    """Mean and harmonic mean over targets of each summary metric present.

    Args:
        targets (dict[str, dict]): target name -> :func:`target_result`.

    Returns:
        dict: ``{'mean': {metric: value}, 'harmonic_mean': {metric: value}}``.
    """
    metrics = [m for m in SUMMARY_METRICS if targets and all(m in r for r in targets.values())]
    return {
        'mean': {m: arithmetic_mean(r[m] for r in targets.values()) for m in metrics},
        'harmonic_mean': {m: harmonic_mean(r[m] for r in targets.values()) for m in metrics},
    }
