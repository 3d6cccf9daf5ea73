"""The heads' loss against labels and pixel weights (the call every UDA part makes): the configured loss_decode,
pixel-weighted cross-entropy whose ignored pixels count in the denominator (mmseg 0.16 semantics)."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import daseg  # noqa: F401  (registers the heads)


def _head(**loss):
    init_default_scope('mmseg')
    return MODELS.build(dict(type='DLV2Head', in_channels=4, in_index=0, num_classes=4, dilations=(1,),
                             loss_decode=dict(type='CrossEntropyLoss', **loss)))


def pixel_weighted_ce(logits, labels, weight=None, **loss):
    return _head(**loss).label_losses(logits, labels, weight)['loss_ce']


def _ce(logit_row, label):
    return math.log(sum(math.exp(v) for v in logit_row)) - logit_row[label]


def test_matches_a_hand_computation_with_ignored_pixels():
    rows = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 1.0], [0.0, 0.0, 0.0]]
    logits = torch.tensor(rows).T.reshape(1, 3, 2, 2)
    labels = torch.tensor([[[0, 2], [255, 1]]])
    weight = torch.tensor([[[0.5, 1.0], [0.7, 0.25]]])
    expected = (0.5 * _ce(rows[0], 0) + 1.0 * _ce(rows[1], 2) + 0.25 * _ce(rows[3], 1)) / 4
    assert pixel_weighted_ce(logits, labels, weight).item() == pytest.approx(expected, rel=1e-6)
    assert pixel_weighted_ce(logits, labels[:, None], weight[:, None]).item() == pytest.approx(expected, rel=1e-6)


def test_without_weight_divides_by_all_pixels_not_the_valid_ones():
    logits = torch.randn(2, 4, 3, 3)
    labels = torch.randint(0, 4, (2, 3, 3))
    labels[0, 0, :] = 255
    torch_mean_over_valid = F.cross_entropy(logits, labels, ignore_index=255)
    ours = pixel_weighted_ce(logits, labels)
    torch.testing.assert_close(ours * labels.numel() / (labels != 255).sum(), torch_mean_over_valid)


def test_logits_are_resized_to_the_labels():
    # Spatially constant logits stay constant under bilinear resizing, so every pixel has the same CE.
    row = [1.0, -0.5]
    logits = torch.tensor(row).reshape(1, 2, 1, 1).expand(1, 2, 2, 2).contiguous()
    labels = torch.tensor([[[0, 1, 1, 255]] * 4])
    expected = (4 * _ce(row, 0) + 8 * _ce(row, 1)) / 16
    assert pixel_weighted_ce(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_the_configured_loss_decode_applies_to_pseudo_labels():
    logits, labels = torch.randn(2, 4, 3, 3), torch.randint(0, 4, (2, 3, 3))
    weight = torch.rand(2, 3, 3)
    full = pixel_weighted_ce(logits, labels, weight)
    torch.testing.assert_close(pixel_weighted_ce(logits, labels, weight, loss_weight=0.25), 0.25 * full)
    # avg_non_ignore divides by the weight-carrying pixels instead (mmseg 1.x option), a config choice honoured.
    labels[0, 0] = 255
    assert not torch.isclose(pixel_weighted_ce(logits, labels, weight, avg_non_ignore=True),
                             pixel_weighted_ce(logits, labels, weight))
    assert set(_head().label_losses(logits, labels, weight)) == {'loss_ce', 'acc_seg'}
