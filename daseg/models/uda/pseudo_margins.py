"""HRDA's pseudo-label margins: no pseudo-label weight near the borders of the target image."""
import torch

from daseg.errors import UserError


def check_margins(margins):
    """``crop_pseudo_margins`` as a tuple ``(top, bottom, left, right)`` of non-negative ints, or None.

    Args:
        margins (Sequence[int] | None): the config value.

    Returns:
        tuple[int, int, int, int] | None
    """
    if margins is None:
        return None
    values = tuple(margins) if isinstance(margins, (list, tuple)) else ()
    if len(values) != 4 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise UserError(f'crop_pseudo_margins must be 4 non-negative ints [top, bottom, left, right], got {margins!r}')
    return values


def ignore_margins(weight: torch.Tensor, margins) -> torch.Tensor:
    """Zero the weight within ``margins`` pixels of each border of the image.

    Target images carry rectification artefacts at the top and sides and the ego-vehicle at the bottom, where
    pseudo-labels drift; HRDA ignores [30, 240, 30, 30] pixels of its 1024-pixel-high Cityscapes images.

    Args:
        weight (Tensor): pixel weights [N, H, W]; not modified.
        margins (Sequence[int]): (top, bottom, left, right) in pixels.

    Returns:
        Tensor: a new weight map [N, H, W].
    """
    top, bottom, left, right = check_margins(margins)
    height, width = weight.shape[-2:]
    keep = torch.zeros((height, width), dtype=weight.dtype, device=weight.device)
    # Slices with an explicit end: a slice [-0:] would select every row.
    keep[top:max(height - bottom, top), left:max(width - right, left)] = 1
    return weight * keep
