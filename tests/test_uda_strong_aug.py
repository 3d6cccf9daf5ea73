"""Strong augmentation: thresholds, normalisation round trip, kornia ColorJiggle semantics, blur kernel size."""
import math

import kornia.augmentation as K
import pytest
import torch

from daseg.models.uda import blur_kernel_size, color_jitter, denormalize, gaussian_blur, renormalize, strong_transform

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _images(seed=0, n=2, h=20, w=24):
    return renormalize(torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)), MEAN, STD)


def test_normalisation_round_trip():
    img01 = torch.rand(2, 3, 5, 6)
    normalised = renormalize(img01, MEAN, STD)
    torch.testing.assert_close(normalised[:, 0], (img01[:, 0] * 255 - 123.675) / 58.395)
    torch.testing.assert_close(denormalize(normalised, MEAN, STD), img01)
    torch.testing.assert_close(renormalize(denormalize(normalised, MEAN, STD), MEAN, STD), normalised)


def test_identity_when_both_draws_skip():
    img = _images()
    assert strong_transform(img, MEAN, STD, torch.Generator().manual_seed(0), color_jitter_p=1.0, blur=False) is img


@pytest.mark.parametrize('kwargs', [dict(color_jitter_p=0.0, blur=False), dict(color_jitter_p=1.0, blur_p=0.0)])
def test_each_step_changes_the_image_reproducibly(kwargs):
    img = _images()
    out = strong_transform(img, MEAN, STD, torch.Generator().manual_seed(1), **kwargs)
    assert out.shape == img.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, img)
    assert torch.equal(out, strong_transform(img, MEAN, STD, torch.Generator().manual_seed(1), **kwargs))
    assert not torch.equal(out, strong_transform(img, MEAN, STD, torch.Generator().manual_seed(2), **kwargs))


def test_color_jitter_matches_kornia_color_jiggle():
    """Second implementation: kornia's ColorJiggle (the original's kornia 0.5 ColorJitter) replaying our draws."""
    img01 = torch.rand(1, 3, 6, 7)
    ours = color_jitter(img01, 0.2, torch.Generator().manual_seed(5))
    # The same draws, in color_jitter's order: three factors in U(0.8, 1.2), the hue in U(-0.2, 0.2), the order.
    rng = torch.Generator().manual_seed(5)
    brightness, contrast, saturation = (0.8 + 0.4 * torch.rand(1, generator=rng) for _ in range(3))
    hue = -0.2 + 0.4 * torch.rand(1, generator=rng)
    order = torch.randperm(4, generator=rng)
    jiggle = K.ColorJiggle(0.2, 0.2, 0.2, 0.2, p=1.0)
    jiggle(img01)
    params = dict(jiggle._params, brightness_factor=brightness, contrast_factor=contrast,
                  saturation_factor=saturation, hue_factor=hue, order=order)
    torch.testing.assert_close(ours, jiggle(img01, params=params))


def test_blur_keeps_constant_images_and_smooths_noise():
    constant = torch.full((2, 3, 20, 30), 0.7)
    torch.testing.assert_close(gaussian_blur(constant, generator=torch.Generator().manual_seed(0)), constant)
    noise = torch.randn(2, 3, 40, 40)
    assert gaussian_blur(noise, generator=torch.Generator().manual_seed(0)).std() < noise.std()


@pytest.mark.parametrize('length', [1, 10, 11, 20, 21, 30, 512, 1024])
def test_blur_kernel_size_matches_the_original_formula(length):
    # The original: floor(ceil(0.1 L) - 0.5 + ceil(0.1 L) % 2).
    k = math.ceil(0.1 * length)
    assert blur_kernel_size(length) == math.floor(k - 0.5 + k % 2)
    assert blur_kernel_size(length) % 2 == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_runs_on_cuda_with_a_cpu_generator():
    img = _images().cuda()
    out = strong_transform(img, MEAN, STD, torch.Generator().manual_seed(1), color_jitter_p=0.0, blur_p=0.0)
    cpu = strong_transform(img.cpu(), MEAN, STD, torch.Generator().manual_seed(1), color_jitter_p=0.0, blur_p=0.0)
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), cpu, atol=1e-4, rtol=1e-4)
