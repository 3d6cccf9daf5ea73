"""Pseudo-labels: argmax label, one confidence scalar for the batch, border rows and valid masks."""
import pytest
import torch

from daseg.models.uda import apply_valid_mask, ignore_border, pseudo_label


def test_weight_is_the_confident_fraction_of_the_batch():
    # Two 2x2 images, 2 classes. A margin of 10 gives p = 0.99995 (confident), a margin of 1 gives 0.73.
    margins = torch.tensor([[[10., -1.], [1., 1.]],
                            [[-10., 1.], [-1., 10.]]])
    logits = torch.stack([margins, torch.zeros_like(margins)], dim=1).requires_grad_()
    # Confident: (0,0,0) margin 10, (1,0,0) margin -10, (1,1,1) margin 10 -> 3 of 8 pixels.
    label, weight = pseudo_label(logits, threshold=0.968)
    assert torch.equal(label, (margins < 0).long())
    assert weight.shape == (2, 2, 2) and weight.dtype == torch.float32
    torch.testing.assert_close(weight, torch.full((2, 2, 2), 0.375))
    assert not weight.requires_grad


def test_ignore_border_zeroes_top_and_bottom_rows():
    weight = torch.ones(2, 10, 4)
    out = ignore_border(weight, top=2, bottom=3)
    expected = torch.ones(2, 10, 4)
    expected[:, [0, 1, 7, 8, 9]] = 0
    assert torch.equal(out, expected)
    assert torch.equal(weight, torch.ones(2, 10, 4))
    assert torch.equal(ignore_border(weight, top=0, bottom=0), weight)


def test_apply_valid_mask_multiplies():
    weight = torch.full((1, 2, 3), 0.5)
    valid = torch.tensor([[[[True, False, True], [False, True, True]]]])
    torch.testing.assert_close(apply_valid_mask(weight, valid), torch.tensor([[[.5, 0, .5], [0, .5, .5]]]))
    with pytest.raises(ValueError, match='valid mask'):
        apply_valid_mask(weight, valid[..., :2])
