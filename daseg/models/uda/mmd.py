"""Multi-kernel Gaussian maximum mean discrepancy (MMD) between two batches of feature vectors (DAN-style)."""
import torch


def multi_kernel_mmd(source: torch.Tensor, target: torch.Tensor, kernel_mul: float = 2.0,
                     kernel_num: int = 5) -> torch.Tensor:
    """MMD with a sum of ``kernel_num`` Gaussian kernels whose bandwidths grow by ``kernel_mul``.

    With ``z`` the n = 2B rows of ``source`` and ``target`` and ``d_ij = ||z_i - z_j||^2``, the base bandwidth is
    ``beta = sum_ij d_ij / (n^2 - n) / kernel_mul^(kernel_num // 2)`` (the mean off-diagonal distance, centred in
    the range of bandwidths), a constant of the batch (no gradient flows through it), and the kernel is
    ``k_ij = sum_{k < kernel_num} exp(-d_ij / (beta * kernel_mul^k))``. The loss is the mean over the B x B pairs
    of ``k(s_i, s_j) + k(t_i, t_j) - k(s_i, t_j) - k(t_i, s_j)``.

    Args:
        source (Tensor): [B, C] feature vectors.
        target (Tensor): [B, C] feature vectors (the same B).
        kernel_mul (float): ratio of successive bandwidths. Default 2.0.
        kernel_num (int): number of kernels. Default 5.

    Returns:
        Tensor: the scalar MMD, float32.
    """
    if source.shape != target.shape or source.dim() != 2:
        raise ValueError(f'MMD takes two [B, C] batches of one shape, got {tuple(source.shape)} and '
                         f'{tuple(target.shape)}')
    b = source.shape[0]
    z = torch.cat([source, target]).float()
    n = z.shape[0]
    dist = (z.unsqueeze(0) - z.unsqueeze(1)).pow(2).sum(dim=2)
    # Identical features (all distances 0) give kernels of 1 everywhere, not 0 / 0.
    beta = (dist.detach().sum() / (n * n - n) / kernel_mul ** (kernel_num // 2)).clamp_min(torch.finfo(z.dtype).tiny)
    kernels = sum(torch.exp(-dist / (beta * kernel_mul ** k)) for k in range(kernel_num))
    xx, yy = kernels[:b, :b], kernels[b:, b:]
    xy, yx = kernels[:b, b:], kernels[b:, :b]
    return (xx + yy - xy - yx).mean()
