"""Pseudo-labels of a whole target training set from a model's class probabilities, with class-wise thresholds.

Two passes: the model predicts every image once (the arg-max class and its confidence, kept on disk as an 8-bit
and a 16-bit PNG, and counted in a per-class confidence histogram); then every label is thresholded with the
class-wise medians capped at 0.9 (:mod:`daseg.models.unionset.thresholds`) and written as
``<labels>/<image stem>_psl.png`` (the image's path under the dataset's image folder, its suffix replaced), the
layout a dataset reads with ``data_prefix.seg_map_path=<labels>`` and ``seg_map_suffix='_psl.png'``.
"""
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import numpy as np
import torch

from ..apis.outputs import save_png
from ..atomic import atomic_write_text
from ..errors import UserError
from ..evaluation.targets import build_dataloader
from ..models.unionset.thresholds import ConfidenceHistogram, apply_thresholds, dequantise, quantise
from ..progress import progress_bar

PSEUDO_LABEL_SUFFIX = '_psl.png'
_RAW = '.raw'


def label_stem(dataset, img_path):
    """The image's path under the dataset's image folder, without its suffix (as the datasets list stems)."""
    root = dataset.data_prefix.get('img_path', '')
    rel = osp.relpath(img_path, root)
    suffix = getattr(dataset, 'img_suffix', osp.splitext(img_path)[1])
    if rel.startswith('..') or not rel.endswith(suffix):
        raise UserError(f'pseudo-labels: {img_path} is not a *{suffix} image under {root}')
    return rel[:-len(suffix)]


@torch.no_grad()
def write_pseudo_labels(model, dataset_cfg, out_dir, cap=0.9, workers=1, classes=None):
    """Predict, threshold and write the pseudo-labels of every image of a dataset.

    Args:
        model (UnionSetBase): a model with ``probabilities(inputs)`` -> [N, C, H, W] at the input size, and its
            data preprocessor; put in eval mode here.
        dataset_cfg (dict): the target training images (a pipeline that loads and resizes the image, no labels).
        out_dir (str): folder of the labels (``<stem>_psl.png``) and of ``thresholds.json``.
        cap (float): upper bound of every class threshold (0.9 in the original).
        workers (int): dataloader worker processes.
        classes (Sequence[str] | None): class names for thresholds.json.

    Returns:
        dict: the thresholds per class, the pixels per class before and after thresholding, the image count.
    """
    loader = build_dataloader('pseudo-label images', dataset_cfg, workers)
    dataset = loader.dataset
    raw = osp.join(out_dir, _RAW)
    shutil.rmtree(raw, ignore_errors=True)  # what an interrupted run left
    model.eval()
    device = next(model.parameters()).device
    histogram = ConfidenceHistogram(model.num_classes)
    stems = []
    print(f'pseudo-labels, pass 1 of 2 (predicting): {len(dataset)} images', file=sys.stderr, flush=True)
    bar = progress_bar(len(dataset), file=sys.stderr)
    for data in loader:
        batch = model.data_preprocessor(data, False)
        conf, label = model.probabilities(batch['inputs'].to(device)).max(1)
        conf, label = conf[0].cpu(), label[0].to(torch.uint8).cpu()
        histogram.add(label, conf)
        stem = label_stem(dataset, batch['data_samples'][0].img_path)
        stems.append(stem)
        for kind, array in (('label', label.numpy()), ('conf', quantise(conf).numpy().astype(np.uint16))):
            path = osp.join(raw, f'{stem}_{kind}.png')
            os.makedirs(osp.dirname(path), exist_ok=True)
            if not cv2.imwrite(path, array):
                raise UserError(f'cannot write {path} (disk full or no permission?)')
        bar.update()
    bar.close()
    thresholds = histogram.thresholds(cap)
    kept = np.zeros(model.num_classes, dtype=np.int64)
    print('pseudo-labels, pass 2 of 2 (thresholding)', file=sys.stderr, flush=True)
    bar = progress_bar(len(stems), file=sys.stderr)
    for stem in stems:
        label = cv2.imread(osp.join(raw, f'{stem}_label.png'), cv2.IMREAD_UNCHANGED)
        conf = dequantise(cv2.imread(osp.join(raw, f'{stem}_conf.png'), cv2.IMREAD_UNCHANGED).astype(np.int64))
        label = apply_thresholds(label, conf, thresholds)
        kept += np.bincount(label[label != 255].ravel(), minlength=model.num_classes)
        path = osp.join(out_dir, stem + PSEUDO_LABEL_SUFFIX)
        if osp.exists(path):
            os.remove(path)  # an interrupted run's; this run's replaces it
        save_png(path, label)
        bar.update()
    bar.close()
    shutil.rmtree(raw)
    names = list(classes or range(model.num_classes))
    summary = {'images': len(stems), 'cap': cap,
               'classes': {str(name): {'threshold': round(float(t), 6), 'pixels': int(n), 'kept': int(k)}
                           for name, t, n, k in zip(names, thresholds, histogram.num_pixels, kept)}}
    atomic_write_text(osp.join(out_dir, 'thresholds.json'), json.dumps(summary, indent=2) + '\n', overwrite=True)
    return summary
