"""The state of one UDA training iteration that the wrapper hands to each of its components."""
from dataclasses import dataclass, field

import torch


@dataclass
class DomainBatch:
    """One domain's preprocessed batch.

    Attributes:
        img (Tensor): normalised images [N, 3, H, W] in the wrapper's input memory format.
        samples (list[SegDataSample]): their data samples (metainfo; ground truth on the source).
        label (Tensor | None): ground truth [N, H, W] long, or None for an unlabelled domain.
    """

    img: torch.Tensor
    samples: list
    label: torch.Tensor = None


@dataclass
class UDAStep:
    """What the components of one iteration share.

    Attributes:
        iteration (int): the training iteration, counted from 0 (survives ``--resume``).
        generator (torch.Generator): CPU generator of this iteration's mixing, masking and augmentation draws.
        source (DomainBatch): the labelled source batch.
        target (DomainBatch): the unlabelled target batch.
        cache (dict): results computed once per iteration and read by several components, e.g. a teacher's
            pseudo-labels on the unmixed target (:meth:`once`).
        extra (dict): further batches the dataset adds to each item besides the source and the target, preprocessed
            like them: ``name -> DomainBatch``, or a list of them when an item carries several samples of that
            batch (e.g. ``'paste'``: rare-class crops, see :class:`~daseg.models.uda.rare_class_paste.RareClassPaste`).
    """

    iteration: int
    generator: torch.Generator
    source: DomainBatch
    target: DomainBatch
    cache: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def once(self, key, compute):
        """``compute()`` the first time ``key`` is asked for in this iteration, the stored result afterwards."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]
