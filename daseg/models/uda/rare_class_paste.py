"""Rare-class copy-paste (the ``paste`` of the CLUDA-style DAFormer fork, after DSP): the pixels of rare classes
from source crops are pasted over the ClassMix images, before their colour jitter and blur.

The crops come from the data loader (``UDADataset(paste=dict(...))``, see :mod:`daseg.datasets.paste_crops`):
for every item, ``num_classes`` distinct classes of a list (default rider, bus, train, motorcycle, bicycle) and
for each a source crop that shows it, through the source pipeline and the data preprocessor, so the pasted
pixels are normalised like the image. Every drawn class is pasted, one crop after the other (a later crop's
class covers an earlier one where both lie); its pixels take the crop's image, its label and weight 1.

The fork pasted only the first drawn class (a ``return`` inside its loop), normalised its pixels Caffe-style (BGR,
mean subtracted, no std) inside mmseg-normalised images, and wrote label values 12-18 from another crop into the
weight map.
"""
import torch
from mmseg.registry import MODELS

from ...errors import UserError


@MODELS.register_module()
class RareClassPaste:
    """A transform of the mixed batch (``ClassMixSelfTraining(mixed_transforms=[...])``) that pastes the pixels
    of each crop's class (its data sample's ``paste_class``) from the step's extra batches ``step.extra[batch]``.

    Args:
        batch (str): name of the extra batches that hold the crops. Default ``'paste'`` (``UDADataset``'s).
    """

    def __init__(self, batch: str = 'paste'):
        self.batch = batch

    def __call__(self, step, img, label, weight):
        """Paste onto ``img`` [N, 3, H, W], ``label`` [N, H, W] and ``weight`` [N, H, W] (new tensors).

        Returns:
            tuple[Tensor, Tensor, Tensor]: the pasted images, labels and weights.
        """
        crops = step.extra.get(self.batch)
        if crops is None:
            raise UserError(f'RareClassPaste: the data batch has no {self.batch}_inputs; set '
                            f'train_dataloader.dataset.{self.batch}=dict(...) (UDADataset)')
        masks = []
        for crop in crops if isinstance(crops, list) else [crops]:
            classes = torch.tensor([s.paste_class for s in crop.samples])
            mask = crop.label == classes.to(crop.label.device, non_blocking=True).view(-1, 1, 1)
            img = torch.where(mask.unsqueeze(1), crop.img, img)
            label = torch.where(mask, crop.label, label)
            weight = weight.masked_fill(mask, 1.0)
            masks.append(mask)
        step.cache['rare_class_paste'] = dict(masks=masks)  # for debug pictures
        return img, label, weight
