"""Rare-class sampling (RCS, DAFormer): draw a class with P(c) = softmax((1 - f_c) / T), then a source
sample holding more than `min_pixels` pixels of it, re-cropped until the crop shows enough of the class.

The statistics are the converters' `sample_class_stats.json` and `samples_with_class.json` at the source
data root (format in `daseg.datasets.convert.class_stats`); their `file` paths are matched to the source
samples by label path relative to the data root, so an `ann_file` subset restricts both the frequencies and
the candidate files to the samples the dataset lists. `ClassCropLoader` (candidate files per class, crops
that show the class) is what rare-class sampling shares with the paste crops of `daseg.datasets.paste_crops`.

Randomness: every draw uses numpy's global generator, like mmcv's random transforms. mmengine seeds it in
the main process (`set_random_seed`) and in each data-loader worker (`worker_init_fn`: seed + num_workers *
rank + worker id), so a run with a fixed seed repeats its classes, files and crops, and workers draw
different streams. A plain torch `DataLoader` without that `worker_init_fn` would give forked workers the
same numpy state, hence the same draws.
"""
import json
import logging
import os
import os.path as osp
from collections import Counter

import numpy as np
from mmengine.logging import print_log

from ..errors import UserError

CLASS_STATS = 'sample_class_stats.json'
SAMPLES_WITH_CLASS = 'samples_with_class.json'
# The converter that writes a dataset type's statistics, named when they are missing.
CONVERTERS = {
    'GTADataset': 'gta.py', 'SynthiaDataset': 'synthia.py', 'CheckedCityscapesDataset': 'cityscapes.py',
    'CityscapesDataset': 'cityscapes.py', 'IDDDataset': 'idd.py', 'ACDCDataset': 'acdc.py',
    'CheckedDarkZurichDataset': 'darkzurich.py', 'DarkZurichDataset': 'darkzurich.py',
    'SynscapesDataset': 'synscapes.py', 'MapillaryCSDataset': 'mapillary.py',
    'GenericSegDataset': 'generic.py --label-map MAP',
}


def class_probabilities(pixel_counts, temperature):
    """Sampling probability of each class, P(c) = softmax((1 - f_c) / T), f_c = pixels of c / all pixels.

    Args:
        pixel_counts (dict[int, int]): Pixels of each class over the training labels (classes with 0
            pixels are left out, as in the statistics files).
        temperature (float): T > 0; the smaller, the more the rarest classes dominate.

    Returns:
        tuple[list[int], np.ndarray]: The classes in trainId order and their probabilities (float64, sum 1).
    """
    classes = sorted(pixel_counts)
    counts = np.array([pixel_counts[c] for c in classes], dtype=np.float64)
    logits = (1 - counts / counts.sum()) / temperature
    probs = np.exp(logits - logits.max())  # shifted: exp(1 / T) overflows float64 for T < 1 / 709
    return classes, probs / probs.sum()


def read_stats(dataset, purpose='rare class sampling', option='rare_class_sampling'):
    """Read the two statistics files at a dataset's data root.

    Args:
        dataset: Built source dataset with a `data_root`.
        purpose (str): What the statistics are read for, named in the error messages.
        option (str): The config option that asks for them, named in the error messages.

    Returns:
        tuple[list[dict], dict[str, list]]: `sample_class_stats.json` and `samples_with_class.json`.
    """
    name = type(dataset).__name__
    root = getattr(dataset, 'data_root', None)
    if not root:
        raise UserError(f'{name}: {purpose} needs the source data_root, where {CLASS_STATS} and '
                        f'{SAMPLES_WITH_CLASS} lie')
    converter = 'tools/convert_datasets/' + CONVERTERS.get(name, '<dataset>.py')
    loaded = []
    for file_name in (CLASS_STATS, SAMPLES_WITH_CLASS):
        path = osp.join(root, file_name)
        if not osp.isfile(path):
            raise UserError(f"{purpose}: '{path}' does not exist; write it with "
                            f'`{converter} {root}` (or turn {option} off)')
        try:
            with open(path, encoding='utf-8') as f:
                loaded.append(json.load(f))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{purpose}: '{path}' is not valid JSON ({err}); rewrite it with "
                            f'`{converter} {root}`') from None
    return tuple(loaded)


def label_index(dataset, purpose='rare class sampling'):
    """Map each sample's label path, relative to the data root with '/' separators, to its index.

    Args:
        dataset: Built source dataset whose data infos carry `seg_map_path`.
        purpose (str): What the index is for, named in the error message.

    Returns:
        dict[str, int]: e.g. {'labels/00001_labelTrainIds.png': 1, ...}.
    """
    root = osp.abspath(dataset.data_root)
    index = {}
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('seg_map_path')
        if path is None:
            raise UserError(f'{type(dataset).__name__}: {purpose} needs labelled source samples; '
                            f"sample {i} has no seg_map_path (set data_prefix['seg_map_path'])")
        index[osp.relpath(osp.abspath(path), root).replace(os.sep, '/')] = i
    return index


class ClassCropLoader:
    """The source samples that hold each class, and crops of them that show it: what rare-class sampling and
    rare-class paste (`daseg.datasets.paste_crops`) share.

    Args:
        source: Built source dataset (`data_root` holding the statistics, labelled samples whose pipeline
            packs `data_samples.gt_sem_seg`).
        min_pixels (int): A file is a candidate for class c if it has more than this many pixels of c.
        min_crop_ratio (float): A loaded crop is accepted once it holds more than min_pixels *
            min_crop_ratio pixels of c; 0 accepts the first crop.
        max_attempts (int): Loads (random crops) of the drawn file at most; the last one is kept even if
            it shows too little of c.
        purpose (str): What the crops are for, named in messages. Default 'rare class sampling'.
        option (str): The config option of the user, named in messages. Default 'rare_class_sampling'.

    Attributes:
        class_stats (list[dict]): The entries of `sample_class_stats.json`.
        index (dict[str, int]): Source index of each label path (`label_index`).
        class_samples (dict[int, np.ndarray]): Source indices that are candidates for each class that has any.
    """

    def __init__(self, source, min_pixels=3000, min_crop_ratio=0.5, max_attempts=10, purpose='rare class sampling',
                 option='rare_class_sampling'):
        if min_pixels < 0 or min_crop_ratio < 0:
            raise UserError(f'{option}.min_pixels and min_crop_ratio must be >= 0, got '
                            f'{min_pixels} and {min_crop_ratio}')
        if max_attempts < 1:
            raise UserError(f'{option}.max_attempts must be >= 1, got {max_attempts}')
        self.source = source
        self.min_pixels = min_pixels
        self.min_crop_ratio = min_crop_ratio
        self.max_attempts = max_attempts
        self.purpose = purpose

        self.class_stats, samples_with_class = read_stats(source, purpose, option)
        self.index = label_index(source, purpose)
        self._warn_unmatched(self.class_stats, samples_with_class, self.index)
        candidates = {int(c): [self.index[f] for f, n in pairs if f in self.index and n > min_pixels]
                      for c, pairs in samples_with_class.items()}
        self.class_samples = {c: np.array(files) for c, files in candidates.items() if files}

    def _warn_unmatched(self, class_stats, samples_with_class, index):
        stats_files = {e['file'] for e in class_stats}
        stats_files.update(f for pairs in samples_with_class.values() for f, _ in pairs)
        unmatched = len(stats_files - index.keys())
        if unmatched:
            print_log(f'{self.purpose}: {unmatched} of {len(stats_files)} files in the statistics at '
                      f"'{self.source.data_root}' are not samples of {type(self.source).__name__} (e.g. outside "
                      'its ann_file); they are ignored', logger='current', level=logging.WARNING)
        missing = len(index.keys() - stats_files)
        if missing:
            print_log(f'{self.purpose}: {missing} of {len(index)} samples of {type(self.source).__name__} '
                      f'have no statistics in {CLASS_STATS}; they are never drawn (rerun the converter)',
                      logger='current', level=logging.WARNING)

    def sample_index(self, c):
        """Draw uniformly a source index among the candidates for class c (numpy's global generator)."""
        return int(np.random.choice(self.class_samples[c]))

    def class_pixels(self, sample, c):
        """Pixels of class c in a packed sample's `data_samples.gt_sem_seg`."""
        gt = getattr(sample['data_samples'], 'gt_sem_seg', None)
        if gt is None:
            raise UserError(f'{type(self.source).__name__}: {self.purpose} needs the source pipeline to '
                            'load labels (LoadAnnotationsChecked) and pack them (PackSegInputs)')
        return int((gt.data == c).sum())

    def load_crop(self, i, c):
        """Load source sample i (a new random crop each time) until the crop holds enough of class c.

        Returns:
            dict: The packed source sample (`inputs`, `data_samples`).
        """
        for _ in range(self.max_attempts):
            sample = self.source[i]
            if self.min_crop_ratio == 0 or self.class_pixels(sample, c) > self.min_pixels * self.min_crop_ratio:
                break
        return sample


class RareClassSampler(ClassCropLoader):
    """Draws source samples of rare classes more often (DAFormer's rare class sampling).

    Args:
        source: Built source dataset (`data_root` holding the statistics, labelled samples whose pipeline
            packs `data_samples.gt_sem_seg`).
        class_temp (float): Temperature T of P(c) = softmax((1 - f_c) / T). Defaults to 0.01.
        min_pixels (int): A file is a candidate for class c if it has more than this many pixels of c; a
            class without candidates is never drawn. Defaults to 3000.
        min_crop_ratio (float): A loaded crop is accepted once it holds more than min_pixels *
            min_crop_ratio pixels of c; 0 accepts the first crop. Defaults to 0.5.
        max_attempts (int): Loads (random crops) of the drawn file at most; the last one is kept even if
            it shows too little of c. Defaults to 10.

    Attributes:
        rcs_classes (list[int]): Classes that can be drawn, in trainId order.
        rcs_probs (np.ndarray): Their probabilities (sum 1), for logging.
        class_samples (dict[int, np.ndarray]): Source indices that are candidates for each class.
    """

    def __init__(self, source, class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5, max_attempts=10):
        if not class_temp > 0:
            raise UserError(f'rare_class_sampling.class_temp must be > 0, got {class_temp}')
        super().__init__(source, min_pixels, min_crop_ratio, max_attempts)
        pixel_counts = Counter()
        for entry in self.class_stats:
            if entry['file'] in self.index:
                pixel_counts.update({int(c): n for c, n in entry.items() if c != 'file'})
        classes, probs = class_probabilities(pixel_counts, class_temp)
        keep = np.array([c in self.class_samples for c in classes], dtype=bool)
        if not keep.any():
            raise UserError(f'rare class sampling: no class of {type(source).__name__} has a file with more than '
                            f'min_pixels={min_pixels} pixels of it; lower rare_class_sampling.min_pixels')
        # Restricting the softmax to the kept classes = renormalising it; f_c still counts every class.
        self.rcs_classes = [c for c, k in zip(classes, keep) if k]
        self.rcs_probs = probs[keep] / probs[keep].sum()
        self.class_samples = {c: self.class_samples[c] for c in self.rcs_classes}

    def sample_class(self):
        """Draw a class c ~ P (numpy's global generator)."""
        return int(self.rcs_classes[np.random.choice(len(self.rcs_classes), p=self.rcs_probs)])

    def sample(self):
        """Draw a class, one of its files, and load it until the crop holds enough of the class.

        Returns:
            dict: The packed source sample (`inputs`, `data_samples`).
        """
        c = self.sample_class()
        return self.load_crop(self.sample_index(c), c)
