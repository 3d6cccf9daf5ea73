"""Merging BatchNorm running statistics of N models, one model at a time.

``gaussian`` (the model-merging paper's rule, with n_k = num_batches_tracked of model k and N = sum n_k)::

    mu  = sum_k (n_k / N) mu_k
    var = sum_k (n_k / N) (var_k + (mu_k - mu)^2)
    num_batches_tracked = N

i.e. the mean and variance of the mixture of the per-model Gaussians. ``gaussian-weighted`` is the same mixture
with the user's merge weights instead of the counts; ``mean`` averages mean and variance with the merge weights
(no spread between the models' means); ``first`` keeps the first model's statistics.
"""
import torch

BUFFER_MODES = ('gaussian', 'gaussian-weighted', 'mean', 'first')
STAT_NAMES = ('running_mean', 'running_var', 'num_batches_tracked')


def batchnorm_prefixes(keys):
    """Prefixes (ending with '.') of the BatchNorm layers in a state dict: those with a ``running_mean``."""
    return sorted(k[:-len('running_mean')] for k in keys if k.endswith('.running_mean'))


def batchnorm_keys(keys):
    """Every running-statistics key of the BatchNorm layers among ``keys``."""
    keys = set(keys)
    return {p + name for p in batchnorm_prefixes(keys) for name in STAT_NAMES if p + name in keys}


class _Mixture:
    """Count-weighted mean and variance of Gaussians added one at a time (Chan et al.'s pairwise update, in
    float64: no cancellation between E[x^2] and E[x]^2)."""

    def __init__(self):
        self.count, self.mean, self.scatter = 0.0, None, None

    def add(self, count, mean, var):
        if count <= 0:
            return
        mean, var = mean.double(), var.double()
        if self.mean is None:
            self.count, self.mean, self.scatter = count, mean.clone(), count * var
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * (count / total)
        self.scatter += count * var + delta.square() * (self.count * count / total)
        self.count = total

    def result(self):
        return self.mean, self.scatter / self.count


class BatchNormMerger:
    """Merge the running statistics of every BatchNorm layer of N state dicts, fed one at a time.

    Args:
        mode (str): one of :data:`BUFFER_MODES`.
        prefixes (list[str]): the BatchNorm layers, see :func:`batchnorm_prefixes`.
        label (str): names the models in messages, e.g. ``'model'``.
    """

    def __init__(self, mode, prefixes, label='model'):
        if mode not in BUFFER_MODES:
            raise ValueError(f'unknown buffer mode {mode!r}')
        self.mode, self.prefixes, self.label = mode, prefixes, label
        self.counted = {p: _Mixture() for p in prefixes}
        self.weighted = {p: _Mixture() for p in prefixes}
        self.sums = {}
        self.first = None
        self.num_batches = {}
        self.fallbacks = []

    def add(self, state_dict, weight):
        """Add one model's statistics with its merge weight."""
        if self.first is None:
            self.first = {p: {n: state_dict[p + n].clone() for n in STAT_NAMES if p + n in state_dict}
                          for p in self.prefixes}
        for p in self.prefixes:
            mean, var = state_dict[p + 'running_mean'], state_dict[p + 'running_var']
            batches = state_dict.get(p + 'num_batches_tracked')
            if self.mode == 'gaussian':
                if batches is None:
                    raise ValueError(f'{self.label}: BatchNorm {p[:-1]} has no num_batches_tracked, which '
                                     '--buffers gaussian weights by; use --buffers gaussian-weighted')
                self.counted[p].add(float(batches), mean, var)
            self.weighted[p].add(weight, mean, var)
            if self.mode == 'mean':
                sums = self.sums.get(p, (0.0, 0.0))
                self.sums[p] = (sums[0] + weight * mean.double(), sums[1] + weight * var.double())
            if batches is not None:
                self.num_batches[p] = self.num_batches.get(p, 0) + int(batches)

    def result(self):
        """The merged ``running_mean``, ``running_var`` and ``num_batches_tracked`` of every layer.

        Under ``gaussian``, a layer that no model ever updated (all counts 0) falls back to the merge weights;
        such layers are listed in ``self.fallbacks``.
        """
        out = {}
        for p in self.prefixes:
            first = self.first[p]
            if self.mode == 'first':
                out.update({p + n: t for n, t in first.items()})
                continue
            if self.mode == 'mean':
                mean, var = self.sums[p]
            elif self.mode == 'gaussian' and self.counted[p].count > 0:
                mean, var = self.counted[p].result()
            else:
                if self.mode == 'gaussian':
                    self.fallbacks.append(p[:-1])
                mean, var = self.weighted[p].result()
            out[p + 'running_mean'] = mean.to(first['running_mean'].dtype)
            out[p + 'running_var'] = var.to(first['running_var'].dtype)
            if 'num_batches_tracked' in first:
                out[p + 'num_batches_tracked'] = torch.tensor(self.num_batches[p],
                                                              dtype=first['num_batches_tracked'].dtype)
        return out
