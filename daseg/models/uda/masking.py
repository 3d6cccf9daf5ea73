"""MIC's block masks: images with random square blocks set to 0 in normalised space (the ImageNet mean colour)."""
import torch
import torch.nn.functional as F

from ...errors import UserError


class BlockMaskGenerator:
    """Keep each ``block_size`` x ``block_size`` block of an image when a uniform draw exceeds ``mask_ratio``.

    The keep grid is ``round(H / b) x round(W / b)`` per image, nearest-upsampled to ``H x W`` (so blocks at the
    borders may be cut or stretched when ``b`` does not divide the size), as MIC's ``BlockMaskGenerator``.

    Args:
        mask_ratio (float): probability that a block is masked, in [0, 1).
        mask_block_size (int): block side in pixels of the input.
    """

    def __init__(self, mask_ratio: float, mask_block_size: int):
        if not 0 <= mask_ratio < 1:
            raise UserError(f'mask_ratio must be in [0, 1), got {mask_ratio!r}')
        if not isinstance(mask_block_size, int) or mask_block_size < 1:
            raise UserError(f'mask_block_size must be a positive int, got {mask_block_size!r}')
        self.mask_ratio = mask_ratio
        self.block_size = mask_block_size

    @torch.no_grad()
    def keep_mask(self, shape, generator=None, device=None) -> torch.Tensor:
        """1 where pixels are kept, 0 where masked: [N, 1, H, W] float, drawn on the CPU generator."""
        n, _, height, width = shape
        grid = (max(round(height / self.block_size), 1), max(round(width / self.block_size), 1))
        keep = (torch.rand((n, 1) + grid, generator=generator) > self.mask_ratio).float()
        return F.interpolate(keep, size=(height, width), mode='nearest').to(device)

    @torch.no_grad()
    def mask_image(self, img: torch.Tensor, generator=None) -> torch.Tensor:
        """``img`` [N, C, H, W] (normalised) times a fresh keep mask."""
        return img * self.keep_mask(img.shape, generator, img.device).to(img.dtype)


MASK_GENERATORS = {'block': BlockMaskGenerator}


def build_mask_generator(cfg: dict) -> BlockMaskGenerator:
    """A mask generator from its config ``dict(type='block', mask_ratio=..., mask_block_size=...)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in MASK_GENERATORS:
        raise UserError(f'mask_generator type must be one of {", ".join(MASK_GENERATORS)}, got {kind!r}')
    return MASK_GENERATORS[kind](**cfg)
