"""Running a segmentor over one target's dataloader: the confusion matrix, and optionally the predictions."""
import os
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..progress import progress_bar
from .metrics import ConfusionMatrix
from .predictions import prediction_path, save_trainids
from .tta import tta_test_step
from .visualize import output_names, save_comparison


def _prediction_at(sample, shape, align_corners):
    """The predicted classes at the label's resolution.

    mmseg resizes the logits to the image's original shape; a label file of another size (some GTA frames)
    gets the logits resized once more, so that every label pixel is evaluated.
    """
    pred = sample.pred_sem_seg.data[0]
    if tuple(pred.shape) == tuple(shape):
        return pred
    logits = F.interpolate(sample.seg_logits.data[None], size=tuple(shape), mode='bilinear',
                           align_corners=align_corners)
    return logits[0].argmax(0)


def _same_size_batches(batch):
    """A dataloader batch split into batches of images of one size (each in the batch's order): the data
    preprocessor stacks a test batch without padding, and a real dataset may mix sizes (IDD: 1920x1080 and
    1280x720)."""
    groups = {}
    for index, image in enumerate(batch['inputs']):
        groups.setdefault(tuple(image.shape), []).append(index)
    for indices in groups.values():
        yield {key: [values[i] for i in indices] for key, values in batch.items()}


def _predict(model, batch, tta):
    for part in _same_size_batches(batch):
        yield from tta_test_step(model, part) if tta else model.test_step(part)


def evaluate_target(model, dataloader, num_classes, show_dir=None, title='evaluating', pred_dir=None, tta=False):
    """Predict every image of a dataloader and accumulate the confusion matrix of the labelled ones.

    Args:
        model (mmseg BaseSegmentor): in eval mode; ``test_step`` returns SegDataSamples whose ``pred_sem_seg``
            has the original image size and whose ``gt_sem_seg`` holds the label as loaded (the test pipeline
            loads annotations after resizing the image), or no ``gt_sem_seg`` for an unlabelled image.
        dataloader (DataLoader): batches of ``pseudo_collate``d samples, of any size; the images of one size in
            a batch are predicted together.
        num_classes (int): C.
        show_dir (str | None): if given, a folder that receives one image|GT|prediction PNG per image
            (image|prediction without a label).
        title (str): printed before the progress bar.
        pred_dir (str | None): if given, a folder that receives the predicted trainIds of each image at its
            original size (see :func:`daseg.evaluation.predictions.prediction_path`).
        tta (bool): predict with multi-scale + flip test-time augmentation (:mod:`daseg.evaluation.tta`).

    Returns:
        tuple[np.ndarray, int]: the (C, C) confusion matrix (of the labelled images) and the number of images.
    """
    device = next(model.parameters()).device
    align_corners = bool(getattr(model, 'align_corners', False))
    dataset = dataloader.dataset
    names = None
    if show_dir is not None:
        names = output_names([dataset.get_data_info(i)['img_path'] for i in range(len(dataset))])
        os.makedirs(show_dir, exist_ok=True)
    img_root = dataset.data_prefix.get('img_path') if hasattr(dataset, 'data_prefix') else None
    confusion = ConfusionMatrix(num_classes, device=device)
    print(f'{title}: {len(dataset)} images' + (' (multi-scale + flip)' if tta else ''), file=sys.stderr,
          flush=True)
    bar = progress_bar(len(dataset), file=sys.stderr)
    count = 0
    with torch.no_grad():
        for batch in dataloader:
            for sample in _predict(model, batch, tta):
                gt = sample.gt_sem_seg.data[0] if 'gt_sem_seg' in sample else None
                pred = sample.pred_sem_seg.data[0]
                if gt is not None:
                    pred = _prediction_at(sample, gt.shape, align_corners)
                    confusion.update(pred, gt)
                if pred_dir is not None:
                    save_trainids(osp.join(pred_dir, prediction_path(sample.img_path, img_root)),
                                  sample.pred_sem_seg.data[0].cpu().numpy())
                if names is not None:
                    image = np.asarray(Image.open(sample.img_path).convert('RGB'))
                    save_comparison(osp.join(show_dir, names[sample.img_path]), image,
                                    None if gt is None else gt.cpu().numpy(), pred.cpu().numpy())
                count += 1
                bar.update()
    bar.close()
    return confusion.matrix, count
