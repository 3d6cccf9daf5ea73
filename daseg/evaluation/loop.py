"""Running a segmentor over one target's dataloader and counting its confusion matrix."""
import os
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar
from PIL import Image

from .metrics import ConfusionMatrix
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


def evaluate_target(model, dataloader, num_classes, show_dir=None, title='evaluating'):
    """Predict every image of a dataloader and accumulate the confusion matrix.

    Args:
        model (mmseg BaseSegmentor): in eval mode; ``test_step`` returns SegDataSamples whose ``pred_sem_seg``
            has the original image size and whose ``gt_sem_seg`` holds the label as loaded (the test pipeline
            loads annotations after resizing the image).
        dataloader (DataLoader): batches of ``pseudo_collate``d samples.
        num_classes (int): C.
        show_dir (str | None): if given, an existing folder that receives one image|GT|prediction PNG per image.
        title (str): printed before the progress bar.

    Returns:
        tuple[np.ndarray, int]: the (C, C) confusion matrix and the number of images.
    """
    device = next(model.parameters()).device
    align_corners = bool(getattr(model, 'align_corners', False))
    dataset = dataloader.dataset
    names = None
    if show_dir is not None:
        names = output_names([dataset.get_data_info(i)['img_path'] for i in range(len(dataset))])
        os.makedirs(show_dir, exist_ok=True)
    confusion = ConfusionMatrix(num_classes, device=device)
    print(f'{title}: {len(dataset)} images', file=sys.stderr, flush=True)
    bar = ProgressBar(len(dataset), file=sys.stderr)
    count = 0
    with torch.no_grad():
        for batch in dataloader:
            for sample in model.test_step(batch):
                gt = sample.gt_sem_seg.data[0]
                pred = _prediction_at(sample, gt.shape, align_corners)
                confusion.update(pred, gt)
                if names is not None:
                    image = np.asarray(Image.open(sample.img_path).convert('RGB'))
                    save_comparison(osp.join(show_dir, names[sample.img_path]), image,
                                    gt.cpu().numpy(), pred.cpu().numpy())
                count += 1
                bar.update()
    sys.stderr.write('\n')
    return confusion.matrix, count
