"""Task-vector merges: task arithmetic, TIES-Merging and DARE, accumulated one model at a time.

With a shared initialisation theta_base, the task vector of model k is tau_k = theta_k - theta_base.

- Task arithmetic (Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023):
  theta = theta_base + lambda * sum_k tau_k.
- TIES-Merging (Yadav et al., "TIES-Merging: Resolving Interference When Merging Models", NeurIPS 2023):
  trim each tau_k to its top-``density`` share of entries by magnitude (over the whole model), elect the sign
  of every entry as the sign of the trimmed vectors' sum, average the entries that agree with it (disjoint
  mean), theta = theta_base + lambda * merged. An entry whose sum is exactly 0 takes the sign elected for the
  majority of the model's entries, as the reference code does (+ when that is even too).
- DARE (Yu et al., "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free
  Lunch", ICML 2024): drop each entry of tau_k with probability p and rescale the rest by 1 / (1 - p), then
  merge by task arithmetic.

Only floating-point tensors have task vectors; integer tensors are taken from the first model. Memory holds
the base, the running sums (TIES: four of them) and the current model, whatever the number of models.
"""
import hashlib
import math

import torch

from .average import accumulator_dtype


def trim_threshold(task_vector, density):
    """The magnitude at or above which TIES keeps an entry of one task vector.

    Args:
        task_vector (Iterable[Tensor]): the tensors of tau_k over the whole model.
        density (float): share of entries kept, in (0, 1]: the ceil(density * n) largest magnitudes (all entries
            tied with the smallest of them are kept too).

    Returns:
        float: the threshold (0 for an empty vector).
    """
    magnitudes = torch.cat([t.detach().reshape(-1).abs().float() for t in task_vector])
    if magnitudes.numel() == 0:
        return 0.0
    kept = min(magnitudes.numel(), math.ceil(density * magnitudes.numel()))
    return float(magnitudes.kthvalue(magnitudes.numel() - kept + 1).values)


def dare_generator(seed, label, index, key):
    """A generator for DARE's drop mask of one tensor: it depends on the seed, the sub-model, the input's
    position and the key only, so a merge is reproducible whatever else is merged."""
    digest = hashlib.sha256(f'{seed}/{label}/{index}/{key}'.encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], 'little') & (2 ** 63 - 1))


class TaskArithmetic:
    """theta_base + scaling * sum_k tau_k over the keys of state dicts added one at a time.

    Args:
        keys (Iterable[str]): the keys merged (parameters and non-BatchNorm buffers).
        base (dict[str, Tensor]): theta_base, with every key.
        scaling (float): lambda.
    """

    def __init__(self, keys, base, scaling):
        self.keys, self.base, self.scaling = list(keys), base, scaling
        self.sums, self.first, self.dtypes = {}, {}, {}

    def task_vector(self, key, tensor, index):
        """tau_k of one tensor, in the accumulator's dtype."""
        self.dtypes.setdefault(key, tensor.dtype)
        dtype = accumulator_dtype(tensor.dtype)
        return tensor.to(dtype) - self.base[key].to(dtype)

    def add(self, state_dict, index):
        """Add model ``index`` (0-based position among the inputs)."""
        for key in self.keys:
            tensor = state_dict[key]
            if not tensor.is_floating_point():
                self.first.setdefault(key, tensor.clone())
                continue
            tau = self.task_vector(key, tensor, index)
            if key in self.sums:
                self.sums[key].add_(tau)
            else:
                self.sums[key] = tau

    def merged_vector(self):
        """dict[str, Tensor]: the merged task vector of the floating-point keys."""
        return self.sums

    def result(self):
        """dict[str, Tensor]: the merged tensors, in the first model's dtypes."""
        merged = self.merged_vector()
        out = dict(self.first)
        for key, tau in merged.items():
            out[key] = (self.base[key].to(tau.dtype) + self.scaling * tau).to(self.dtypes[key])
        return {key: out[key] for key in self.keys}


class Dare(TaskArithmetic):
    """DARE (drop with probability ``drop``, rescale by 1 / (1 - drop)), then task arithmetic.

    Args:
        keys, base, scaling: see :class:`TaskArithmetic`.
        drop (float): p, in [0, 1).
        seed (int): with the sub-model ``label``, the input's position and the key, fixes every mask.
        label (str): the sub-model, e.g. ``'model'``.
    """

    def __init__(self, keys, base, scaling, drop, seed, label='model'):
        super().__init__(keys, base, scaling)
        self.drop, self.seed, self.label = drop, seed, label

    def task_vector(self, key, tensor, index):
        tau = super().task_vector(key, tensor, index)
        if self.drop == 0:
            return tau
        generator = dare_generator(self.seed, self.label, index, key)
        keep = torch.rand(tau.shape, generator=generator) >= self.drop
        return tau * keep / (1 - self.drop)


class Ties(TaskArithmetic):
    """TIES-Merging: trim, elect sign, disjoint mean; theta_base + scaling * merged.

    Args:
        keys, base, scaling: see :class:`TaskArithmetic`.
        thresholds (Sequence[float]): per input, the magnitude kept from (:func:`trim_threshold`).
    """

    def __init__(self, keys, base, scaling, thresholds):
        super().__init__(keys, base, scaling)
        self.thresholds = list(thresholds)
        # Per entry: sum and count of the positive and of the negative trimmed entries.
        self.parts = {}

    def add(self, state_dict, index):
        for key in self.keys:
            tensor = state_dict[key]
            if not tensor.is_floating_point():
                self.first.setdefault(key, tensor.clone())
                continue
            tau = self.task_vector(key, tensor, index)
            tau = tau * (tau.abs() >= self.thresholds[index])
            pos, neg = tau.clamp(min=0), tau.clamp(max=0)
            counts = (tau > 0).to(torch.int32), (tau < 0).to(torch.int32)
            if key not in self.parts:
                self.parts[key] = [pos, neg, *counts]
            else:
                for total, part in zip(self.parts[key], (pos, neg, *counts)):
                    total.add_(part)

    def merged_vector(self):
        signs = {key: (pos + neg).sign() for key, (pos, neg, _, _) in self.parts.items()}
        majority = sum(float(s.sum()) for s in signs.values())
        fallback = -1.0 if majority < 0 else 1.0
        merged = {}
        for key, (pos, neg, n_pos, n_neg) in self.parts.items():
            sign = torch.where(signs[key] == 0, torch.full_like(signs[key], fallback), signs[key])
            merged[key] = torch.where(sign > 0, pos / n_pos.clamp(min=1), neg / n_neg.clamp(min=1))
        return merged
