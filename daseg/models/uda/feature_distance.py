"""DAFormer's ImageNet feature distance: keep the student's features of thing classes close to ImageNet's."""
import torch
import torch.nn.functional as F

# Cityscapes train ids of traffic light, traffic sign, person, rider, car, truck, bus, train, motorcycle, bicycle.
THING_CLASSES = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)


def downscale_label_ratio(gt: torch.Tensor, scale_factor: float, min_ratio: float = 0.75, n_classes: int = 19,
                          ignore_index: int = 255) -> torch.Tensor:
    """Downscale a label map by blocks: each output cell gets its block's majority class, if dominant enough.

    Ignored pixels count as a class of their own, so a block that is mostly unlabelled becomes ignore, and
    a block whose majority class covers less than ``min_ratio`` of its pixels becomes ignore as well.

    The original took the integer block size (``H // h``) as its scale factor; this one takes the output/input
    ratio like mmseg's resize, so ``scale_factor=1/32`` maps 512 x 512 labels onto 16 x 16 features.

    Args:
        gt (Tensor): labels [N, 1, H, W] long.
        scale_factor (float): output size / input size, the inverse of an integer block size.
        min_ratio (float): minimal share of the majority class in a block. Default 0.75.
        n_classes (int): number of classes; labels lie in [0, n_classes) or equal ``ignore_index``. Default 19.
        ignore_index (int): the ignore label. Default 255.

    Returns:
        Tensor: labels [N, 1, H // block, W // block] long.
    """
    block = round(1 / scale_factor)
    if block < 1 or abs(block * scale_factor - 1) > 1e-6:
        raise ValueError(f'scale_factor must be 1 / (an integer block size), got {scale_factor}')
    labels = gt.squeeze(1).long()
    labels = torch.where(labels == ignore_index, n_classes, labels)
    one_hot = F.one_hot(labels, n_classes + 1).permute(0, 3, 1, 2).float()
    ratio, out = F.avg_pool2d(one_hot, block).max(dim=1, keepdim=True)
    out[out == n_classes] = ignore_index
    out[ratio < min_ratio] = ignore_index
    return out


def feature_distance(f_student: torch.Tensor, f_imnet: torch.Tensor, mask: torch.Tensor = None) -> torch.Tensor:
    """Mean over (masked) pixels of the L2 norm over channels of ``f_student - f_imnet``.

    The ImageNet features are detached, so the loss only pulls the student. With an empty mask the result is 0
    (the original returned NaN, the mean of nothing); no host synchronisation is needed either way.

    Args:
        f_student (Tensor): student features [N, C, h, w].
        f_imnet (Tensor): features of the frozen ImageNet model [N, C, h, w].
        mask (Tensor, optional): bool [N, h, w] or [N, 1, h, w]; all pixels when None.

    Returns:
        Tensor: scalar distance.
    """
    distance = torch.linalg.vector_norm(f_student - f_imnet.detach(), dim=1)
    if mask is None:
        return distance.mean()
    if mask.dim() == 4:
        mask = mask.squeeze(1)
    mask = mask.to(distance.dtype)
    # The norm's gradient is 0 where the difference is 0, so masked-out pixels contribute neither value nor NaN.
    return (distance * mask).sum() / mask.sum().clamp(min=1)


def thing_class_fd_loss(f_student: torch.Tensor, f_imnet: torch.Tensor, gt: torch.Tensor,
                        thing_classes=THING_CLASSES, lambda_fd: float = 0.005, min_ratio: float = 0.75,
                        n_classes: int = 19, ignore_index: int = 255) -> torch.Tensor:
    """``lambda_fd`` times the feature distance over the feature cells whose downscaled label is a thing class.

    Args:
        f_student (Tensor): student features [N, C, h, w] (DAFormer: the last backbone stage).
        f_imnet (Tensor): ImageNet-model features [N, C, h, w], computed by the caller without grad.
        gt (Tensor): source labels [N, 1, H, W] or [N, H, W]; H / h and W / w must be the same integer.
        thing_classes (Sequence[int]): classes whose features are kept close. Default :data:`THING_CLASSES`.
        lambda_fd (float): loss weight. Default 0.005.
        min_ratio (float): see :func:`downscale_label_ratio`. Default 0.75.
        n_classes (int): number of classes. Default 19.
        ignore_index (int): the ignore label. Default 255.

    Returns:
        Tensor: scalar loss.
    """
    if gt.dim() == 3:
        gt = gt.unsqueeze(1)
    (height, width), (h, w) = gt.shape[-2:], f_student.shape[-2:]
    if height % h or width % w or height // h != width // w:
        raise ValueError(f'labels of size {height}x{width} are not an integer multiple of the features\' {h}x{w}')
    labels = downscale_label_ratio(gt, h / height, min_ratio, n_classes, ignore_index)
    mask = torch.isin(labels, torch.as_tensor(thing_classes, device=labels.device))
    return lambda_fd * feature_distance(f_student, f_imnet, mask)
