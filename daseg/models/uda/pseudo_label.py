"""Pseudo-labels from the teacher's logits and their pixel weights (confidence, border crop, valid-region mask)."""
import torch


@torch.no_grad()
def pseudo_label(logits: torch.Tensor, threshold: float = 0.968):
    """Hard pseudo-labels and their DACS confidence weight.

    The weight is one scalar for the whole batch, broadcast to every pixel: the fraction of the batch's pixels
    whose maximum softmax probability is at least ``threshold``. It is computed on the device, without a host
    synchronisation.

    Args:
        logits (Tensor): teacher logits [N, C, H, W]; detached here, so no gradient reaches the teacher.
        threshold (float): confidence threshold on the maximum probability. Default 0.968.

    Returns:
        tuple[Tensor, Tensor]: ``label`` [N, H, W] long (argmax over classes) and ``weight`` [N, H, W] float.
    """
    max_prob, label = torch.softmax(logits.detach().float(), dim=1).max(dim=1)
    confident_fraction = (max_prob >= threshold).float().mean()
    return label, confident_fraction.expand_as(max_prob).clone()


def ignore_border(weight: torch.Tensor, top: int = 15, bottom: int = 120) -> torch.Tensor:
    """Zero the weight of the top and bottom rows of the crop (DAFormer's pseudo-label crop).

    Target crops of Cityscapes carry rectification artefacts at the top and the ego-vehicle at the bottom, where
    pseudo-labels drift; DAFormer v1 ignores 15 and 120 rows of its 512 x 512 crops.

    Args:
        weight (Tensor): pixel weights [N, H, W]; not modified.
        top (int): rows to zero at the top, in pixels of the crop. Default 15.
        bottom (int): rows to zero at the bottom. Default 120.

    Returns:
        Tensor: a new weight map [N, H, W].
    """
    if top < 0 or bottom < 0:
        raise ValueError(f'ignore_border expects non-negative row counts, got top={top}, bottom={bottom}')
    weight = weight.clone()
    weight[:, :top] = 0
    # A slice [-0:] would select every row, so bottom=0 needs its own case.
    if bottom > 0:
        weight[:, -bottom:] = 0
    return weight


def apply_valid_mask(weight: torch.Tensor, valid_mask: torch.Tensor) -> torch.Tensor:
    """Multiply the weight by a per-pixel valid mask (HRDA's pseudo-label margins, precomputed by the dataset).

    Args:
        weight (Tensor): pixel weights [N, H, W].
        valid_mask (Tensor): [N, H, W] or [N, 1, H, W], bool or 0/1 float, cropped like the image.

    Returns:
        Tensor: ``weight * valid_mask`` [N, H, W].
    """
    if valid_mask.dim() == 4:
        valid_mask = valid_mask.squeeze(1)
    if valid_mask.shape != weight.shape:
        raise ValueError(f'valid mask of shape {tuple(valid_mask.shape)} does not match the pseudo weight '
                         f'{tuple(weight.shape)}')
    return weight * valid_mask.to(weight.dtype)
