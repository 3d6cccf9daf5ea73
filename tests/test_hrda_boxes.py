"""HRDA box geometry: the random detail crop, the sliding-window grid and pasting windows back together."""
import pytest
import torch

from daseg.errors import UserError
from daseg.models.utils.boxes import box_mask, paste_windows, random_crop_box, sliding_window_boxes


def test_detail_crop_is_divisible_inside_and_reaches_every_position():
    generator = torch.Generator().manual_seed(0)
    tops, lefts = set(), set()
    for _ in range(3000):
        y1, y2, x1, x2 = random_crop_box(1024, 2048, (512, 512), divisible=8, generator=generator)
        assert y1 % 8 == 0 and x1 % 8 == 0
        assert (y2 - y1, x2 - x1) == (512, 512)
        assert 0 <= y1 and y2 <= 1024 and 0 <= x1 and x2 <= 2048
        tops.add(y1)
        lefts.add(x1)
    # Every multiple of 8 that keeps the crop inside: 0..512 (65 values) and 0..1536 (193 values).
    assert tops == set(range(0, 513, 8))
    assert lefts == set(range(0, 1537, 8))


def test_detail_crop_when_the_margin_is_no_multiple_and_when_the_crop_is_too_large():
    generator = torch.Generator().manual_seed(1)
    tops = {random_crop_box(100, 64, 64, divisible=8, generator=generator)[0] for _ in range(500)}
    assert tops == {0, 8, 16, 24, 32}  # 36 rows of margin: 40 would leave the image
    assert random_crop_box(36, 20, (64, 64), divisible=8) == (0, 36, 0, 20)
    with pytest.raises(UserError, match='crop_coord_divisible'):
        random_crop_box(64, 64, 32, divisible=0)
    with pytest.raises(UserError, match='crop_size'):
        random_crop_box(64, 64, (32, -1))


def test_sliding_windows_follow_mmseg_grid():
    boxes = sliding_window_boxes(1024, 2048, 512, 256)
    assert len(boxes) == 3 * 7
    assert boxes[0] == (0, 512, 0, 512) and boxes[-1] == (512, 1024, 1536, 2048)
    # The last window is shifted back to end at the border; a window taller than the image is clipped.
    assert sliding_window_boxes(100, 64, 64, 32) == [(0, 64, 0, 64), (32, 96, 0, 64), (36, 100, 0, 64)]
    assert sliding_window_boxes(36, 64, (64, 64), (32, 32)) == [(0, 36, 0, 64)]


def test_paste_averages_overlapping_windows():
    # Two 4x4 windows of a 4x6 image with stride-2 logits: values 1 and 3, overlapping in the middle column.
    logits = torch.cat([torch.full((1, 1, 2, 2), 1.0), torch.full((1, 1, 2, 2), 3.0)])
    pasted, count = paste_windows(logits, [(0, 4, 0, 4), (0, 4, 2, 6)], (4, 6))
    torch.testing.assert_close(pasted, torch.tensor([[[[1., 2., 3.], [1., 2., 3.]]]]))
    torch.testing.assert_close(count, torch.tensor([[[[1., 2., 1.], [1., 2., 1.]]]]))


def test_paste_keeps_the_batch_apart_and_leaves_uncovered_cells_zero():
    # Window-major batch of 2 images: rows 0-1 are the only window, one per image.
    logits = torch.stack([torch.full((1, 2, 2), 5.0), torch.full((1, 2, 2), 7.0)])
    pasted, count = paste_windows(logits, [(4, 8, 0, 4)], (8, 8))
    assert pasted.shape == (2, 1, 4, 4)
    assert pasted[0, 0, 2:, :2].eq(5).all() and pasted[1, 0, 2:, :2].eq(7).all()
    assert pasted[:, :, :2].eq(0).all() and pasted[:, :, :, 2:].eq(0).all()
    assert int(count.sum()) == 4


def test_box_mask_marks_cells_whose_centre_is_inside():
    mask = box_mask((8, 24, 0, 16), (32, 32), (4, 4), torch.zeros(1))
    expected = torch.zeros(4, 4)
    expected[1:3, 0:2] = 1
    torch.testing.assert_close(mask[0, 0], expected)
