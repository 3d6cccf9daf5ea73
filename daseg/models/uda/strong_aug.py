"""DACS's strong augmentation of the mixed image: colour jitter and Gaussian blur.

Images are [N, 3, H, W] RGB, normalised with ``mean``/``std`` given in the 0-255 scale (as mmseg's
SegDataPreProcessor outputs). All randomness comes from one ``torch.Generator`` so that a seeded caller gets
the same augmentation on CPU and CUDA.

Semantics of the original (kornia 0.5.8 ``ColorJitter``, kept as kornia's ``ColorJiggle`` today): brightness
adds ``f - 1``, contrast multiplies by ``f`` (both clipped to [0, 1]), saturation scales the HSV saturation by
``f``, hue shifts by ``f`` turns; the factors of brightness, contrast and saturation are drawn from
``U(1 - s, 1 + s)`` and the hue's from ``U(-s, s)``, per image, applied in a random order per image. kornia's
current ``ColorJitter`` uses torchvision's blend formulas instead, so it is not used here.
"""
import math

import torch
from kornia.enhance import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation
from kornia.filters import gaussian_blur2d


def _brightness(img: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return adjust_brightness(img, factor - 1)


def _hue(img: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return adjust_hue(img, factor * 2 * math.pi)


# The colour steps in kornia's index order (brightness, contrast, saturation, hue), each taking [N] factors.
_COLOUR_STEPS = (_brightness, adjust_contrast, adjust_saturation, _hue)


def _channel_stats(values, img: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=img.dtype, device=img.device).reshape(1, -1, 1, 1)


def denormalize(img: torch.Tensor, mean, std) -> torch.Tensor:
    """Undo the normalisation: ``(img * std + mean) / 255``, giving values in [0, 1].

    Args:
        img (Tensor): normalised images [N, 3, H, W].
        mean (Sequence[float] | Tensor): per-channel mean, 0-255 scale.
        std (Sequence[float] | Tensor): per-channel standard deviation, 0-255 scale.

    Returns:
        Tensor: images [N, 3, H, W] in [0, 1].
    """
    return (img * _channel_stats(std, img) + _channel_stats(mean, img)) / 255


def renormalize(img: torch.Tensor, mean, std) -> torch.Tensor:
    """Inverse of :func:`denormalize`: ``(img * 255 - mean) / std``.

    Args:
        img (Tensor): images [N, 3, H, W] in [0, 1].
        mean (Sequence[float] | Tensor): per-channel mean, 0-255 scale.
        std (Sequence[float] | Tensor): per-channel standard deviation, 0-255 scale.

    Returns:
        Tensor: normalised images [N, 3, H, W].
    """
    return (img * 255 - _channel_stats(mean, img)) / _channel_stats(std, img)


def _rng_device(generator):
    """Random numbers are drawn on the generator's device (CPU without one) and moved to the images after.

    With a CPU generator nothing here waits for the GPU: the few numbers go to the device with non-blocking
    copies, and the draws that decide the control flow are read on the host.
    """
    return generator.device if generator is not None else 'cpu'


def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
    """``n`` draws from U(low, high)."""
    return low + (high - low) * torch.rand(n, generator=generator, device=_rng_device(generator))


def blur_kernel_size(length: int) -> int:
    """Odd Gaussian kernel size of about 10% of an image side: ``ceil(0.1 * length)``, minus one if even.

    Args:
        length (int): image height or width in pixels.

    Returns:
        int: an odd kernel size >= 1.
    """
    size = math.ceil(0.1 * length)
    return size if size % 2 else size - 1


@torch.no_grad()
def color_jitter(img: torch.Tensor, strength: float = 0.2, generator: torch.Generator = None) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue (semantics in the module docstring), one draw per image.

    Args:
        img (Tensor): images [N, 3, H, W] in [0, 1] (de-normalised).
        strength (float): ``s`` of the factor ranges. Default 0.2.
        generator (torch.Generator, optional): source of randomness; the global one when None.

    Returns:
        Tensor: jittered images [N, 3, H, W].
    """
    n = img.shape[0]
    low = max(0.0, 1 - strength)
    factors = torch.stack([
        _uniform(n, low, 1 + strength, generator),
        _uniform(n, low, 1 + strength, generator),
        _uniform(n, low, 1 + strength, generator),
        _uniform(n, -strength, strength, generator),
    ]).to(device=img.device, dtype=img.dtype, non_blocking=True)
    out = []
    # One image at a time because each image has its own order of the four steps, as in the original.
    for i in range(n):
        image = img[i:i + 1]
        for step in torch.randperm(4, generator=generator, device=_rng_device(generator)).tolist():
            image = _COLOUR_STEPS[step](image, factors[step, i:i + 1])
        out.append(image)
    return torch.cat(out)


@torch.no_grad()
def gaussian_blur(img: torch.Tensor, sigma_range=(0.15, 1.15), generator: torch.Generator = None) -> torch.Tensor:
    """Gaussian blur with one sigma per image drawn from ``U(*sigma_range)`` (the same along y and x).

    The kernel is :func:`blur_kernel_size` of the height by that of the width (kornia takes one size per
    dimension); borders are reflected.

    Args:
        img (Tensor): images [N, C, H, W], normalised or not (the blur is linear and preserves constants).
        sigma_range (tuple[float, float]): range of the blur's standard deviation. Default (0.15, 1.15).
        generator (torch.Generator, optional): source of randomness; the global one when None.

    Returns:
        Tensor: blurred images [N, C, H, W].
    """
    # Left on the generator's device: kornia checks a CPU sigma on the host and copies it without waiting.
    sigma = _uniform(img.shape[0], *sigma_range, generator).to(dtype=img.dtype)
    kernel = (blur_kernel_size(img.shape[-2]), blur_kernel_size(img.shape[-1]))
    return gaussian_blur2d(img, kernel, torch.stack([sigma, sigma], dim=1))


@torch.no_grad()
def strong_transform(img: torch.Tensor, mean, std, generator: torch.Generator = None, color_jitter_s: float = 0.2,
                     color_jitter_p: float = 0.2, blur: bool = True, blur_p: float = 0.5) -> torch.Tensor:
    """DACS's strong augmentation of the normalised mixed images: colour jitter, then Gaussian blur.

    Two U(0, 1) draws are made per call (per batch, as the original drew them once per training step): colour
    jitter runs when the first exceeds ``color_jitter_p`` (so with probability 0.8 for p = 0.2: ``p`` is a
    threshold, not the probability of jittering), the blur when ``blur`` is set and the second exceeds
    ``blur_p``. Jitter factors and blur sigmas are then drawn per image.

    Args:
        img (Tensor): normalised images [N, 3, H, W].
        mean (Sequence[float] | Tensor): normalisation mean, 0-255 scale.
        std (Sequence[float] | Tensor): normalisation std, 0-255 scale.
        generator (torch.Generator, optional): source of randomness; the global one when None.
        color_jitter_s (float): jitter strength ``s``. Default 0.2.
        color_jitter_p (float): jitter threshold. Default 0.2.
        blur (bool): whether blurring is enabled at all. Default True.
        blur_p (float): blur threshold. Default 0.5.

    Returns:
        Tensor: augmented normalised images [N, 3, H, W]; ``img`` itself when neither step runs.
    """
    jitter_draw, blur_draw = torch.rand(2, generator=generator, device=_rng_device(generator)).tolist()
    if jitter_draw > color_jitter_p:
        img = renormalize(color_jitter(denormalize(img, mean, std), color_jitter_s, generator), mean, std)
    if blur and blur_draw > blur_p:
        img = gaussian_blur(img, generator=generator)
    return img
