"""CutMix of DDB's coarse region path ("cu"): one box of the source image, 40% of its area, pasted onto the target.

The law of the box is DDB's (reference/ORIGINALS_2.md 4.2, one within-bounds box of area fraction ``a``): per
image, with three independent U(0, 1) draws ``u0, u1, u2``,

* ``y_prop = exp(u0 * ln a)`` in [a, 1], ``x_prop = a / y_prop`` (so ``y_prop * x_prop = a``);
* ``(height, width) = round((y_prop * H, x_prop * W))``;
* ``(top, left) = round(((H, W) - (height, width)) * (u1, u2))``, so the box always lies inside the image.

DDB draws it in the data loader with numpy; here the draws come from the step's CPU generator and the box is
computed there in float64 (a few numbers, no host-device synchronisation), so the same seed gives the same boxes
on any device; the mask is built on the batch's device. Labels and images are [N, (1,) H, W] and [N, C, H, W].
"""
import math

import torch

# DDB's area fraction of the box.
CUT_AREA = 0.4


def cut_mix_boxes(n: int, size, generator: torch.Generator = None, area: float = CUT_AREA) -> torch.Tensor:
    """One box per image by the law of the module docstring.

    Args:
        n (int): number of images.
        size (tuple[int, int]): image (H, W).
        generator (torch.Generator, optional): source of randomness; the global one when None.
        area (float): area fraction ``a`` of the box, in (0, 1]. Default 0.4.

    Returns:
        Tensor: boxes [n, 4] long (top, left, height, width), on the generator's device (the CPU without one).
    """
    device = generator.device if generator is not None else 'cpu'
    draws = torch.rand((n, 3), generator=generator, device=device, dtype=torch.float64)
    y_prop = torch.exp(draws[:, 0] * math.log(area))
    shape = torch.tensor(size, dtype=torch.float64, device=device)
    sizes = torch.round(torch.stack([y_prop, area / y_prop], dim=1) * shape)
    corners = torch.round((shape - sizes) * draws[:, 1:])
    return torch.cat([corners, sizes], dim=1).long()


def cut_mix_masks(boxes: torch.Tensor, size) -> torch.Tensor:
    """Masks that are 1 inside each box (the pasted source pixels) and 0 elsewhere.

    Args:
        boxes (Tensor): [N, 4] long (top, left, height, width) from :func:`cut_mix_boxes`.
        size (tuple[int, int]): image (H, W).

    Returns:
        Tensor: masks [N, 1, H, W] float on ``boxes``' device.
    """
    top, left, height, width = boxes[:, :, None].unbind(1)
    rows = torch.arange(size[0], device=boxes.device)
    cols = torch.arange(size[1], device=boxes.device)
    inside_rows = (rows >= top) & (rows < top + height)
    inside_cols = (cols >= left) & (cols < left + width)
    return (inside_rows[:, :, None] & inside_cols[:, None, :]).unsqueeze(1).float()
