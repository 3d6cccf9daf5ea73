"""Cross-entropy with per-pixel weights, averaged like mmseg 0.16 (ignored pixels count in the denominator)."""
import torch
import torch.nn.functional as F
from mmseg.models.losses import cross_entropy


def pixel_weighted_ce(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor = None,
                      ignore_index: int = 255, align_corners: bool = False) -> torch.Tensor:
    """``sum(weight * ce) / (N * H * W)``: the mixed-image loss of DACS.

    Ignored pixels add 0 to the sum but count in the denominator, the mmseg 0.16 ``CrossEntropyLoss`` semantics
    that the original loss weights were tuned with. This is mmseg 1.x's ``cross_entropy`` with
    ``avg_non_ignore=False``, which divides by ``N * H * W + eps`` (eps = float32 epsilon, a relative change
    below 1e-7 for any image).

    Args:
        logits (Tensor): [N, C, h, w], bilinearly resized to the label size when it differs.
        labels (Tensor): [N, H, W] or [N, 1, H, W] long.
        weight (Tensor, optional): pixel weights [N, H, W] or [N, 1, H, W]; 1 everywhere when None.
        ignore_index (int): the ignore label. Default 255.
        align_corners (bool): of the resize, as the decode head's. Default False.

    Returns:
        Tensor: scalar loss.
    """
    if labels.dim() == 4:
        labels = labels.squeeze(1)
    if weight is not None and weight.dim() == 4:
        weight = weight.squeeze(1)
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode='bilinear', align_corners=align_corners)
    return cross_entropy(logits, labels, weight=weight, reduction='mean', ignore_index=ignore_index,
                         avg_non_ignore=False)
