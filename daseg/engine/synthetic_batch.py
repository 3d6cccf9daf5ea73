"""Synthetic training batches with the shapes a config's data loader produces, for benchmarks without data.

The labels are blocks of several classes (thing classes among them, and ignored pixels), so that rare-class
statistics, ClassMix and the thing-class feature distance do the work they do on real data.
"""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from ..errors import UserError


def crop_size_of(cfg):
    """(H, W) of the training images of an experiment config: its data preprocessor's ``size``.

    Args:
        cfg (mmengine.Config): a UDA (``model.model``) or segmentor (``model``) config.

    Returns:
        tuple[int, int]
    """
    segmentor = cfg.model['model'] if 'model' in cfg.model else cfg.model
    size = (segmentor.get('data_preprocessor') or {}).get('size') or \
        (cfg.model.get('data_preprocessor') or {}).get('size')
    if not size:
        raise UserError('the config sets no model data_preprocessor size; give the crop size with --crop H W')
    return int(size[0]), int(size[1])


def _labels(height, width, num_classes, generator):
    """A [1, H, W] uint8 label map: square blocks of random classes, the top rows ignored (255)."""
    # At least 32 pixels: a cell of the stride-32 features can then hold one class (the feature distance).
    block = max(32, min(height, width) // 8)
    grid = torch.randint(0, num_classes, ((height + block - 1) // block, (width + block - 1) // block),
                         generator=generator)
    labels = grid.repeat_interleave(block, 0).repeat_interleave(block, 1)[:height, :width]
    labels[:max(1, height // 16)] = 255
    return labels.to(torch.uint8).unsqueeze(0)


def _samples(n, height, width, num_classes, generator, with_labels):
    samples = []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             pad_shape=(height, width), flip=False))
        if with_labels:
            sample.gt_sem_seg = PixelData(data=_labels(height, width, num_classes, generator).long())
        samples.append(sample)
    return samples


def synthetic_batch(batch_size: int, crop_size, num_classes: int = 19, uda: bool = True, seed: int = 0,
                    device='cpu') -> dict:
    """A data-loader batch: uint8 images [3, H, W] and SegDataSamples, source and (for UDA) target.

    Args:
        batch_size (int): images per domain.
        crop_size (tuple[int, int]): (H, W).
        num_classes (int): labels are drawn from [0, num_classes), plus ignored rows.
        uda (bool): add ``target_inputs`` / ``target_data_samples`` (without labels) for a UDA wrapper.
        seed (int): the batch is a function of the seed.
        device (str | torch.device): where the tensors are (the GPU: the step then copies nothing).

    Returns:
        dict: ``inputs``, ``data_samples`` and, for UDA, ``target_inputs``, ``target_data_samples``.
    """
    height, width = crop_size
    generator = torch.Generator().manual_seed(seed)

    def images():
        return [torch.randint(0, 256, (3, height, width), generator=generator, dtype=torch.uint8).to(device)
                for _ in range(batch_size)]

    batch = dict(inputs=images(), data_samples=[
        s.to(device) for s in _samples(batch_size, height, width, num_classes, generator, True)])
    if uda:
        batch['target_inputs'] = images()
        batch['target_data_samples'] = [
            s.to(device) for s in _samples(batch_size, height, width, num_classes, generator, False)]
    return batch
