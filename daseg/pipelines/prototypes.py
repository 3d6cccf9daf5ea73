"""DDB's class prototypes of a teacher (ORIGINALS_2.md 4.4): the mean 256-d adapter-head feature of each class it
predicts on the target training images, seen ``epochs`` times through the training pipeline (random crop, flip).

Each item's random crop and flip are drawn from (seed, epoch, image), so the same command gives the same
prototypes. The running means and their cap are :class:`daseg.models.ddb.PrototypeAccumulator`'s.
"""
import os.path as osp
import random
import sys

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader, Dataset

from ..errors import UserError
from ..evaluation.command import build_model
from ..models.ddb import PrototypeAccumulator, save_prototypes
from ..progress import progress_bar
from ..weights import load_segmentor_weights


class SeededEpochs(Dataset):
    """``epochs`` passes over ``datasets`` (concatenated) in order, each item's pipeline randomness seeded from
    (seed, position) (mmcv's transforms draw from numpy's and python's global generators)."""

    def __init__(self, datasets, epochs, seed):
        self.datasets, self.epochs, self.seed = list(datasets), epochs, seed
        self.sizes = [len(d) for d in self.datasets]
        self.total = sum(self.sizes)

    def __len__(self):
        return self.epochs * self.total

    def __getitem__(self, position):
        state = np.random.default_rng([self.seed, position]).integers(2 ** 32)
        np.random.seed(state)
        random.seed(int(state))
        index = position % self.total
        for dataset, size in zip(self.datasets, self.sizes):
            if index < size:
                return dataset[index]
            index -= size
        raise IndexError(position)


def _datasets(dataset_cfgs):
    built = []
    for cfg in dataset_cfgs:
        dataset = DATASETS.build(dict(cfg))
        if len(dataset) == 0:
            raise UserError(f'prototypes: the target dataset {cfg.get("type")} (data_root {cfg.get("data_root")}) '
                            'has no images')
        built.append(dataset)
    return built


@torch.no_grad()
def compute_prototypes(model_cfg, checkpoint, dataset_cfgs, out, epochs=4, min_pixels=10, cap=3000, batch_size=4,
                       workers=2, seed=0, device=None, overwrite=False, which='student'):
    """The prototypes of a checkpoint's segmentor on target images, saved to ``out`` with their provenance.

    Args:
        model_cfg (dict): the segmentor (its decode head answers ``logits_and_features``, e.g. DLV2AdapterHead).
        checkpoint (str): the teacher's checkpoint (a self-training run's: its student, as DDB's CKD loads it).
        dataset_cfgs (Sequence[dict]): the target training sets with their training pipeline.
        out (str): the prototype file to write (atomically).
        epochs (int): passes over the images (DDB: 4).
        min_pixels (int): pixels an image must predict of a class for that class's mean to count (DDB: 10).
        cap (int): the cap on the count of each class's running mean (DDB: 3000).
        batch_size (int): images per forward pass (the result does not depend on it: the model is in eval mode).
        workers (int): dataloader worker processes.
        seed (int): seed of the pipelines' random crops and flips.
        device (torch.device | None): where to run (the GPU when there is one).
        overwrite (bool): replace an existing ``out``.
        which (str): the sub-model of a UDA checkpoint to use.

    Returns:
        dict: the file written, the classes without a prototype and the images seen.
    """
    if osp.exists(out) and not overwrite:
        raise UserError(f'{out} exists; pass --force to replace it')
    device = device or torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = build_model(model_cfg, device)
    load_segmentor_weights(model, checkpoint, which)
    items = SeededEpochs(_datasets(dataset_cfgs), epochs, seed)
    loader = DataLoader(items, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=pseudo_collate)
    accumulator = None
    print(f'prototypes of {checkpoint}: {items.total} images x {epochs} epochs', file=sys.stderr, flush=True)
    bar = progress_bar(len(loader), file=sys.stderr)
    for data in loader:
        batch = model.data_preprocessor(data, False)
        logits, features = model.logits_and_features(batch['inputs'].to(device))
        if accumulator is None:
            accumulator = PrototypeAccumulator(logits.shape[1], features.shape[1], min_pixels=min_pixels, cap=cap)
        accumulator.update(features, logits.argmax(1))  # on the device: full-size features are large
        bar.update()
    bar.close()
    provenance = dict(checkpoint=checkpoint, which=which, datasets=[dict(c) for c in dataset_cfgs], epochs=epochs,
                      min_pixels=min_pixels, cap=cap, seed=seed, images=items.total)
    save_prototypes(out, accumulator, provenance, overwrite=overwrite)
    return {'prototypes': out, 'classes_without_prototype': accumulator.missing, 'images': items.total}
