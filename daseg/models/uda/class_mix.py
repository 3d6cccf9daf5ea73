"""ClassMix: paste half of the classes of each source image onto a target image.

Labels are [N, H, W] or [N, 1, H, W] long with 255 = ignore.
"""
import torch


def class_mix_masks(labels: torch.Tensor, generator: torch.Generator = None,
                    ignore_index: int = 255) -> torch.Tensor:
    """For each source image, a mask of ``ceil(n / 2)`` classes drawn from the ``n`` classes present in it.

    This follows the method's description ("half of the classes of each source image"). The original drew from
    ``torch.unique`` of the whole batch, so an image could get classes it does not contain (pasting fewer
    pixels than intended) and the ignore label 255 could be drawn (pasting unlabelled source pixels). Here each
    image draws from its own classes and the ignore label is never drawn.

    Args:
        labels (Tensor): source labels [N, H, W] or [N, 1, H, W] long.
        generator (torch.Generator, optional): source of randomness; the global one when None.
        ignore_index (int): label that is never selected. Default 255.

    Returns:
        Tensor: masks [N, 1, H, W] float, 1 where the source pixel is pasted.
    """
    if labels.dim() == 4:
        labels = labels.squeeze(1)
    rng_device = generator.device if generator is not None else 'cpu'
    masks = []
    for label in labels:
        classes = torch.unique(label)
        classes = classes[classes != ignore_index]
        pick = torch.randperm(classes.numel(), generator=generator, device=rng_device)[:(classes.numel() + 1) // 2]
        masks.append(torch.isin(label, classes[pick.to(classes.device)]))
    return torch.stack(masks).unsqueeze(1).float()


def mix(mask: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mask * source + (1 - mask) * target`` for images, labels and pixel weights alike.

    Computed as a selection, which equals the formula for a 0/1 mask and keeps the dtype (labels stay long).
    For the mixed pixel weight, pass ``torch.ones_like(pseudo_weight)`` as the source: pasted source pixels
    get weight 1 and target pixels keep their pseudo-label weight.

    Args:
        mask (Tensor): [N, 1, H, W] from :func:`class_mix_masks`.
        source (Tensor): [N, C, H, W] images or [N, H, W] / [N, 1, H, W] labels or weights.
        target (Tensor): same shape as ``source``.

    Returns:
        Tensor: the mixed tensor, shape and dtype of ``source``.
    """
    if source.shape != target.shape:
        raise ValueError(f'cannot mix tensors of shapes {tuple(source.shape)} and {tuple(target.shape)}')
    select = mask.bool()
    if source.dim() == 3:
        select = select.squeeze(1)
    return torch.where(select, source, target)
