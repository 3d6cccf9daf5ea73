"""The training set of unsupervised domain adaptation: each item pairs a labelled source sample with a
target sample, optionally drawing the source by rare-class sampling (see `rare_class_sampling`); either side may
be several datasets (domains, see `domain_sets`)."""
import copy
import random

import numpy as np
from mmseg.registry import DATASETS

from ..errors import UserError
from .domain_sets import DomainSet, check_same_classes, sampling_modes
from .paste_crops import PASTE_OPTIONS, PasteCropSampler
from .rare_class_sampling import RareClassSampler

_RCS_OPTIONS = ('class_temp', 'min_pixels', 'min_crop_ratio', 'max_attempts')


def _checked(options, allowed, name):
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f'UDADataset: unknown {name} option(s) {", ".join(unknown)}; '
                        f'expected some of {", ".join(allowed)}')
    return options


@DATASETS.register_module()
class UDADataset:
    """Pairs of (source, target) samples, each run through its own dataset's pipeline.

    An item is one dict: the source's packed keys (`inputs`, `data_samples`) and the target's under a
    `target_` prefix (`target_inputs`, `target_data_samples`), so mmengine's `pseudo_collate` gives a batch
    dict of lists that a UDA wrapper passes through the segmentor's data preprocessor once per domain. The
    target may be unlabelled (its data samples then have no `gt_sem_seg`).

    The key of an item is its position in the training stream (see `PositionSampler`, which also hands the
    run's seed to `set_seed`). Everything random about the item (rare-class draw, which source and target
    image, the pipelines' random crops and flips) is seeded from (seed, position), so a resumed run sees
    exactly the samples a straight run would. Without rare-class sampling, the source images are visited
    in a fresh random order every pass (length = len(source)); with it, the source comes from
    `RareClassSampler.sample`. The target image is drawn uniformly either way. (The original paired every
    source with every target, a length of 74 million for GTA x Cityscapes, whose shuffle per pass alone
    takes gigabytes of memory.) Without a seed (a plain sampler), position = source index and the global
    generators are used as they are.

    With `paste`, each item also carries source crops of rare classes for copy-paste onto the mixed images
    (`paste_inputs`, `paste_data_samples`: lists of `num_classes` packed samples, drawn after the source and the
    target, see `daseg.datasets.paste_crops`); a UDA wrapper preprocesses them into `UDAStep.extra['paste']`.

    Several domains. `source` and `target` may each be a list of datasets. By default (`domain_sampling='concat'`)
    a side is drawn as the concatenation of its datasets, as DDB's `UDAConcatDataset`: the source from the
    per-pass permutation over all source samples (so each source domain in proportion to its size), the target
    uniformly over all target samples (GTA 24,966 + Synscapes 25,000 gives about one half each; Cityscapes 2,975 +
    Mapillary 18,000 about 14% / 86%). `'balanced'` gives every domain of a side the same share: a domain
    uniformly, then a sample uniformly in it (drawn, not permuted, for the source too). A side given as a list
    records its domain (the index in the list) in its data samples' metainfo key `domain`. All datasets that
    name their classes must name the same ones. Rare-class sampling and paste read the statistics of one data root
    and match its label paths, so they need a single source dataset (DDB's multi-source configs use neither).

    Args:
        source (dict | Dataset | list): Config (built through DATASETS) or instance of the labelled source
            dataset, or a list of them.
        target (dict | Dataset | list): Config or instance of the target dataset, or a list of them.
        rare_class_sampling (dict, optional): `RareClassSampler` options: class_temp (0.01), min_pixels
            (3000), min_crop_ratio (0.5), max_attempts (10). None (default) turns it off.
        paste (dict, optional): `PasteCropSampler` options: classes ((12, 15, 16, 17, 18)), num_classes (2),
            min_pixels (3000), min_crop_ratio (0.5), max_attempts (10); needs the rare-class statistics of the
            source. None (default) turns it off.
        domain_sampling (str | dict): how a side with several datasets is drawn: 'concat' (default) or
            'balanced' for both sides, or e.g. dict(source='balanced', target='concat'). A single dataset is
            drawn the same way under either.
    """

    def __init__(self, source, target, rare_class_sampling=None, paste=None, domain_sampling='concat'):
        source_mode, target_mode = sampling_modes(domain_sampling)
        self.sources = DomainSet(source, 'source', source_mode)
        self.targets = DomainSet(target, 'target', target_mode)
        check_same_classes(self.sources, self.targets)
        self.rcs = None
        self.seed = None
        for option, value in (('rare_class_sampling', rare_class_sampling), ('paste', paste)):
            if value is not None and len(self.sources.datasets) > 1:
                raise UserError(f'UDADataset: {option} needs a single source dataset (it reads the statistics of '
                                f'one data root), got {len(self.sources.datasets)}; turn it off or give one source')
        if rare_class_sampling is not None:
            self.rcs = RareClassSampler(self.sources.datasets[0], **_checked(rare_class_sampling, _RCS_OPTIONS,
                                                                             'rare_class_sampling'))
        self.paste = None if paste is None else PasteCropSampler(self.sources.datasets[0],
                                                                 **_checked(paste, PASTE_OPTIONS, 'paste'))

    @property
    def metainfo(self):
        """The (first) source dataset's metainfo (classes, palette), copied."""
        return copy.deepcopy(self.sources.datasets[0].metainfo)

    @property
    def rcs_classes(self):
        """Classes rare-class sampling draws from (trainIds), or None when it is off."""
        return None if self.rcs is None else self.rcs.rcs_classes

    @property
    def rcs_probs(self):
        """Their probabilities (np.ndarray, sum 1), or None when rare-class sampling is off."""
        return None if self.rcs is None else self.rcs.rcs_probs

    def set_seed(self, seed: int) -> None:
        """Derive every item's randomness from ``seed`` and its position from now on."""
        self.seed = seed

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, position):
        """Return the source sample's packed keys, the target's with a `target_` prefix, and with `paste` the
        crops' as lists with a `paste_` prefix."""
        if position < 0 or (self.seed is None and position >= len(self)):
            raise IndexError(f'UDADataset position {position} out of range for length {len(self)}')
        source_index = position
        if self.seed is not None:
            # The pipelines draw from numpy's and python's global generators (mmcv's transforms do).
            state = np.random.default_rng([self.seed, position]).integers(2 ** 32)
            np.random.seed(state)
            random.seed(int(state))
            rounds, offset = divmod(position, len(self))
            source_index = np.random.default_rng([self.seed, rounds]).permutation(len(self))[offset]
        if self.rcs is not None:
            source = self.sources.mark(self.rcs.sample(), 0)
        else:
            source = self.sources.load(*self.sources.visit(int(source_index)))
        target = self.targets.load(*self.targets.draw())
        item = {**source, **{f'target_{key}': value for key, value in target.items()}}
        if self.paste is not None:
            crops = self.paste.sample()
            item.update({f'paste_{key}': [crop[key] for crop in crops] for key in crops[0]})
        return item
