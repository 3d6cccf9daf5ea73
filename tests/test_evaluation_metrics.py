"""Confusion-matrix metrics against hand-computed numbers and against mmseg's IoUMetric."""
import math

import numpy as np
import pytest
import torch
from mmseg.evaluation.metrics import IoUMetric

from daseg.classes import CLASSES
from daseg.evaluation import (ConfusionMatrix, accuracy_per_class, iou_per_class, nanmean, pixel_accuracy,
                              target_result)

I = 255  # noqa: E741  (ignore label, short for the hand-written arrays)

# 4 classes; class 3 is predicted only on an ignored pixel, so it is absent from the evaluated pixels.
GT = [[0, 0, 1, I],
      [0, 1, 1, 2],
      [2, 2, I, 0]]
PRED = [[0, 1, 1, 3],
        [0, 1, 2, 2],
        [2, 0, 1, 0]]
# Rows ground truth, columns prediction, counted by hand over the 10 non-ignored pixels.
EXPECTED_MATRIX = [[3, 1, 0, 0],
                   [0, 2, 1, 0],
                   [1, 0, 2, 0],
                   [0, 0, 0, 0]]


def _matrix(gt, pred, num_classes):
    cm = ConfusionMatrix(num_classes)
    cm.update(torch.tensor(pred), torch.tensor(gt))
    return cm.matrix


def test_hand_computed_case():
    matrix = _matrix(GT, PRED, 4)
    np.testing.assert_array_equal(matrix, EXPECTED_MATRIX)
    iou = iou_per_class(matrix)
    # class 0: TP 3, FN 1, FP 1 -> 3/5; class 1: 2/(2+1+1); class 2: 2/(2+1+1); class 3: no union.
    np.testing.assert_allclose(iou[:3], [3 / 5, 2 / 4, 2 / 4])
    assert math.isnan(iou[3])
    assert nanmean(iou) == pytest.approx((0.6 + 0.5 + 0.5) / 3)
    assert pixel_accuracy(matrix) == pytest.approx(7 / 10)
    assert nanmean(accuracy_per_class(matrix)) == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)


def test_class_predicted_but_absent_from_ground_truth_counts_as_zero():
    matrix = _matrix([[0, 0]], [[0, 1]], 3)
    iou = iou_per_class(matrix)
    assert iou[0] == pytest.approx(0.5) and iou[1] == 0 and math.isnan(iou[2])
    assert nanmean(iou) == pytest.approx(0.25)


def test_accumulates_over_images_and_checks_shapes():
    cm = ConfusionMatrix(4)
    cm.update(torch.tensor(PRED), torch.tensor(GT))
    cm.update(torch.tensor(PRED), torch.tensor(GT))
    np.testing.assert_array_equal(cm.matrix, 2 * np.array(EXPECTED_MATRIX))
    with pytest.raises(ValueError, match='shape'):
        cm.update(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='predictions'):
        cm.update(torch.full((1, 1), 4), torch.zeros(1, 1, dtype=torch.long))


def test_no_evaluated_pixel_gives_nan():
    result = target_result(_matrix([[I]], [[0]], 19), CLASSES)
    assert math.isnan(result['mIoU']) and math.isnan(result['aAcc'])


def test_matches_mmseg_iou_metric_on_random_data():
    rng = np.random.default_rng(0)
    metric = IoUMetric(ignore_index=255)
    metric.dataset_meta = dict(classes=CLASSES)
    cm = ConfusionMatrix(19)
    for _ in range(5):
        # GT never holds classes 15-18, predictions never 18: classes absent from GT and from both.
        gt = torch.from_numpy(rng.integers(0, 15, (40, 50)))
        gt[torch.from_numpy(rng.random((40, 50)) < 0.2)] = 255
        pred = torch.from_numpy(rng.integers(0, 18, (40, 50)))
        metric.process({}, [dict(pred_sem_seg=dict(data=pred[None]), gt_sem_seg=dict(data=gt[None]))])
        cm.update(pred, gt)
    totals = [sum(parts) for parts in zip(*metric.results)]
    reference = IoUMetric.total_area_to_metrics(*totals, metrics=['mIoU'])
    np.testing.assert_allclose(iou_per_class(cm.matrix), reference['IoU'], equal_nan=True)
    np.testing.assert_allclose(accuracy_per_class(cm.matrix), reference['Acc'], equal_nan=True)
    summary = metric.compute_metrics(metric.results)
    ours = target_result(cm.matrix, CLASSES)
    assert round(ours['mIoU'], 2) == pytest.approx(summary['mIoU'])
    assert round(ours['aAcc'], 2) == pytest.approx(summary['aAcc'])
    assert round(ours['mAcc'], 2) == pytest.approx(summary['mAcc'])
