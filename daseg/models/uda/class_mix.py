"""ClassMix: paste half of the classes of each source image onto a target image.

Labels are [N, H, W] or [N, 1, H, W] long with 255 = ignore.
"""
import torch


def class_mix_keys(n: int, generator: torch.Generator = None, ignore_index: int = 255) -> torch.Tensor:
    """The draws of :func:`class_mix_masks`: one uniform key per image and possible label, [n, max(256,
    ignore_index + 1)], on the generator's device (the CPU without one)."""
    rng_device = generator.device if generator is not None else 'cpu'
    return torch.rand((n, max(256, ignore_index + 1)), generator=generator, device=rng_device)


def class_mix_masks(labels: torch.Tensor, generator: torch.Generator = None,
                    ignore_index: int = 255, keys: torch.Tensor = None) -> torch.Tensor:
    """For each source image, a mask of ``ceil(n / 2)`` classes drawn from the ``n`` classes present in it.

    This follows the method's description ("half of the classes of each source image"). The original drew from
    ``torch.unique`` of the whole batch, so an image could get classes it does not contain (pasting fewer
    pixels than intended) and the ignore label 255 could be drawn (pasting unlabelled source pixels). Here each
    image draws from its own classes and the ignore label is never drawn.

    The draw needs no host-device synchronisation (``torch.unique`` would be one per image): every possible label
    gets a uniform random key, absent labels an impossible one, and the ``ceil(n / 2)`` smallest keys win.

    Args:
        labels (Tensor): source labels [N, H, W] or [N, 1, H, W] long, values in [0, 256) (or ``ignore_index``).
        generator (torch.Generator, optional): source of randomness (the same masks on any device for a CPU
            generator); the global one when None.
        ignore_index (int): label that is never selected. Default 255.
        keys (Tensor, optional): :func:`class_mix_keys` drawn beforehand (``generator`` is then unused), so that
            a compiled caller gets its randomness as a tensor.

    Returns:
        Tensor: masks [N, 1, H, W] float, 1 where the source pixel is pasted.
    """
    if labels.dim() == 4:
        labels = labels.squeeze(1)
    num_labels = max(256, ignore_index + 1)
    flat = labels.reshape(labels.shape[0], -1).long()
    present = torch.zeros(labels.shape[0], num_labels, dtype=torch.bool, device=labels.device)
    present.scatter_(1, flat, True)
    if 0 <= ignore_index < num_labels:
        present[:, ignore_index] = False
    if keys is None:
        keys = class_mix_keys(labels.shape[0], generator, ignore_index)
    keys = keys.to(labels.device, non_blocking=True).masked_fill(~present, 2.0)
    rank = keys.argsort(dim=1).argsort(dim=1)
    chosen = rank < (present.sum(dim=1, keepdim=True) + 1) // 2
    return chosen.gather(1, flat).view_as(labels).unsqueeze(1).float()


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
