"""Box geometry of multi-resolution segmentation: the random detail crop of training, the sliding windows of
inference, and pasting per-window logits back into one map.

A box is ``(y1, y2, x1, x2)`` in pixels of the image it lies in, end exclusive (mmseg's slide-inference order).
"""
import torch

from daseg.errors import UserError


def _pair(value, name):
    """``value`` as a pair of positive ints (an int means a square)."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise UserError(f'{name} must be a positive int or a pair of positive ints, got {value!r}')
    return pair


def random_crop_box(height, width, crop_size, divisible=1, generator=None):
    """A uniformly drawn crop box inside the image whose top-left corner is a multiple of ``divisible``.

    HRDA draws its detail crop this way with ``divisible=8``: the crop then starts on whole cells of both the
    stride-4 logits of the full-resolution crop and the stride-4 logits of the half-resolution context (8 pixels
    of the full image), so the two align exactly in the fusion. Every multiple of ``divisible`` that keeps the crop
    inside the image is equally likely (the original could not draw the last one).

    Args:
        height (int): H of the image the box lies in.
        width (int): W of that image.
        crop_size (int | tuple[int, int]): (h, w) of the crop; a side longer than the image is clipped to it.
        divisible (int): the corner coordinates are multiples of this. Default 1.
        generator (torch.Generator, optional): source of randomness; torch's global generator when None.

    Returns:
        tuple[int, int, int, int]: ``(y1, y2, x1, x2)`` with ``0 <= y1 < y2 <= height`` and
        ``0 <= x1 < x2 <= width``.
    """
    crop_h, crop_w = _pair(crop_size, 'crop_size')
    if not isinstance(divisible, int) or divisible < 1:
        raise UserError(f'crop_coord_divisible must be a positive int, got {divisible!r}')
    crop_h, crop_w = min(crop_h, height), min(crop_w, width)
    y1, x1 = (int(torch.randint(margin // divisible + 1, (1,), generator=generator)) * divisible
              for margin in (height - crop_h, width - crop_w))
    return y1, y1 + crop_h, x1, x1 + crop_w


def crop(tensor, box):
    """The ``box`` region of the last two dimensions of ``tensor`` (e.g. [N, C, H, W] -> [N, C, h, w])."""
    y1, y2, x1, x2 = box
    return tensor[..., y1:y2, x1:x2]


def sliding_window_boxes(height, width, window, stride):
    """Overlapping windows covering the image, mmseg's slide-inference grid.

    Windows start every ``stride`` pixels; the last row and column are shifted back so that they end at the image
    border, and a window longer than the image is clipped to it, so all windows have the same size.

    Args:
        height (int): H of the image.
        width (int): W of the image.
        window (int | tuple[int, int]): (h, w) of a window.
        stride (int | tuple[int, int]): (h, w) step between window starts.

    Returns:
        list[tuple[int, int, int, int]]: boxes, row by row.
    """
    (win_h, win_w), (stride_h, stride_w) = _pair(window, 'window size'), _pair(stride, 'stride')
    rows = max(height - win_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - win_w + stride_w - 1, 0) // stride_w + 1
    boxes = []
    for row in range(rows):
        for col in range(cols):
            y2, x2 = min(row * stride_h + win_h, height), min(col * stride_w + win_w, width)
            boxes.append((max(y2 - win_h, 0), y2, max(x2 - win_w, 0), x2))
    return boxes


def paste_windows(window_logits, boxes, image_size):
    """Average per-window predictions into one map over the whole image.

    The windows' logits may have a coarser resolution than the image (stride ``s`` = window size / logits size,
    e.g. 4 for the DAFormer head); the map then has the image size divided by ``s`` and each window lands at its
    box divided by ``s`` (rounded when the box is not a multiple of ``s``). Cells covered by several windows get the
    mean, cells covered by none get 0.

    Args:
        window_logits (Tensor): [K * N, C, h, w], window-major: rows ``k * N .. (k + 1) * N`` are window ``k`` of
            the N images (what ``torch.cat`` of the crops of a batch gives).
        boxes (Sequence[tuple[int, int, int, int]]): the K boxes, in pixels of the image.
        image_size (tuple[int, int]): (H, W) of the image.

    Returns:
        tuple[Tensor, Tensor]: the map [N, C, round(H / s), round(W / s)] and the number of windows covering each
        cell [1, 1, round(H / s), round(W / s)].
    """
    num_windows = len(boxes)
    if num_windows == 0 or window_logits.shape[0] % num_windows:
        raise ValueError(f'{window_logits.shape[0]} window predictions do not split into {num_windows} windows')
    batch = window_logits.shape[0] // num_windows
    (h, w), (y1, y2, x1, x2) = (int(s) for s in window_logits.shape[-2:]), boxes[0]  # ints also when traced
    stride_h, stride_w = (y2 - y1) / h, (x2 - x1) / w
    out_h, out_w = max(round(image_size[0] / stride_h), h), max(round(image_size[1] / stride_w), w)
    summed = window_logits.new_zeros((batch, window_logits.shape[1], out_h, out_w))
    count = window_logits.new_zeros((1, 1, out_h, out_w))
    for k, (y1, _, x1, _) in enumerate(boxes):
        top, left = min(round(y1 / stride_h), out_h - h), min(round(x1 / stride_w), out_w - w)
        summed[:, :, top:top + h, left:left + w] += window_logits[k * batch:(k + 1) * batch]
        count[:, :, top:top + h, left:left + w] += 1
    return summed / count.clamp(min=1), count


def box_mask(box, image_size, grid_size, like):
    """Cells of a grid over the image whose centre lies inside ``box`` (1) or not (0).

    Args:
        box (tuple[int, int, int, int]): in pixels of the image.
        image_size (tuple[int, int]): (H, W) of the image.
        grid_size (tuple[int, int]): (h, w) of the grid, e.g. a logits map over the whole image.
        like (Tensor): gives dtype and device.

    Returns:
        Tensor: [1, 1, h, w] of 0 and 1.
    """
    y1, y2, x1, x2 = box
    ys = (torch.arange(grid_size[0], device=like.device) + 0.5) * (image_size[0] / grid_size[0])
    xs = (torch.arange(grid_size[1], device=like.device) + 0.5) * (image_size[1] / grid_size[1])
    inside = ((ys >= y1) & (ys < y2))[:, None] & ((xs >= x1) & (xs < x2))[None, :]
    return inside.to(like.dtype)[None, None]
