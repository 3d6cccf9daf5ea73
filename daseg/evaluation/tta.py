"""Test-time augmentation as the originals' ``--aug-test``: the image at 0.5 to 1.75 times the test size, each
also flipped horizontally; the softmax probabilities, brought back to the original image, are averaged.

mmseg 0.x ``MultiScaleFlipAug(img_ratios=[0.5, ..., 1.75], flip=True)`` rescales the test image by each ratio
and ``aug_test`` averages ``inference`` (softmax at the original shape, flips undone). mmseg 1.x's
``SegTTAModel`` merges the same way but needs a per-dataset TTA pipeline; working on a preprocessed batch
serves evaluation and inference on arbitrary images alike, and any segmentor whose ``predict`` undoes flips and
resizes to ``ori_shape`` (mmseg's ``postprocess_result``: EncoderDecoder, HRDA).
"""
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

TTA_RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def _unpadded(inputs, sample):
    """The sample's image without the padding the data preprocessor added (right and bottom)."""
    left, right, top, bottom = sample.metainfo.get('padding_size', (0, 0, 0, 0))
    height, width = inputs.shape[-2:]
    return inputs[..., top:height - bottom, left:width - right]


def _view(sample, shape, flipped):
    """A sample of the same original image, seen at ``shape`` and possibly flipped."""
    meta = dict(sample.metainfo)
    meta.update(img_shape=shape, pad_shape=shape, padding_size=[0, 0, 0, 0], flip=flipped,
                flip_direction='horizontal')
    return SegDataSample(metainfo=meta)


def tta_predict(segmentor, inputs, data_samples, ratios=TTA_RATIOS, flip=True):
    """Predict a batch with multi-scale (and flip) test-time augmentation.

    Args:
        segmentor (mmseg BaseSegmentor): in eval mode; ``predict`` returns ``seg_logits`` at ``ori_shape``.
        inputs (Tensor): (N, 3, H, W), the data preprocessor's output (normalised, at the test size).
        data_samples (list[SegDataSample]): their samples (metainfo: ``ori_shape``, ``padding_size``).
        ratios (Sequence[float]): sizes relative to the test size.
        flip (bool): also predict each size flipped horizontally.

    Returns:
        list[SegDataSample]: the input samples, each with ``seg_logits`` = the mean probabilities (C, h, w) at
        ``ori_shape`` over the 2 x len(ratios) views, and ``pred_sem_seg`` = their argmax (1, h, w).
    """
    flips = (False, True) if flip else (False,)
    for index, sample in enumerate(data_samples):
        image = _unpadded(inputs[index:index + 1], sample)
        height, width = image.shape[-2:]
        total = None
        for ratio in ratios:
            shape = (max(1, int(height * ratio + 0.5)), max(1, int(width * ratio + 0.5)))
            scaled = F.interpolate(image, size=shape, mode='bilinear', align_corners=False)
            for flipped in flips:
                view = scaled.flip(-1) if flipped else scaled
                logits = segmentor.predict(view, [_view(sample, shape, flipped)])[0].seg_logits.data
                probs = logits.softmax(dim=0)
                total = probs if total is None else total + probs
        mean = total / (len(ratios) * len(flips))
        sample.set_data({'seg_logits': PixelData(data=mean),
                         'pred_sem_seg': PixelData(data=mean.argmax(dim=0, keepdim=True))})
    return data_samples


@torch.no_grad()
def tta_test_step(segmentor, batch, ratios=TTA_RATIOS, flip=True):
    """``segmentor.test_step(batch)`` with :func:`tta_predict`: preprocess a dataloader batch, then predict."""
    data = segmentor.data_preprocessor(batch, False)
    return tta_predict(segmentor, data['inputs'], data['data_samples'], ratios, flip)
