"""BatchNorm statistics merging: the Gaussian rule equals the statistics of the pooled data."""
import pytest
import torch

from daseg.merging.buffers import BatchNormMerger

C, S = 3, 40  # channels, samples per batch of one domain


def _batch(gen, mean, std):
    """A batch whose per-channel mean and population std are exactly ``mean`` and ``std``."""
    x = torch.randn(S, C, generator=gen, dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    return x * std + mean


def _accumulate(batches):
    """BatchNorm running statistics with cumulative averaging (momentum=None) over the batches, with the
    variance turned back from BatchNorm's unbiased estimate into the batches' population variance."""
    bn = torch.nn.BatchNorm1d(C, momentum=None).double().train()
    for x in batches:
        bn(x)
    stats = {k: v.clone() for k, v in bn.state_dict().items()}
    size = len(batches[0])
    stats['running_var'] *= (size - 1) / size
    return stats


def _merge(mode, state_dicts, weights):
    merger = BatchNormMerger(mode, [''])
    for sd, w in zip(state_dicts, weights):
        merger.add(sd, w)
    return merger.result()


def test_gaussian_merge_equals_the_pooled_statistics():
    gen = torch.Generator().manual_seed(0)
    mean_a, std_a = torch.tensor([0., 2., -1.]), torch.tensor([1., .5, 2.])
    mean_b, std_b = torch.tensor([3., -2., -1.]), torch.tensor([2., 1., .1])
    domain_a = [_batch(gen, mean_a, std_a) for _ in range(2)]
    domain_b = [_batch(gen, mean_b, std_b) for _ in range(1)]
    merged = _merge('gaussian', [_accumulate(domain_a), _accumulate(domain_b)], [0.5, 0.5])
    # Accumulated on A and B together: batches that hold both domains in the ratio of their batch counts.
    together = _accumulate([torch.cat(domain_a + domain_b)])
    torch.testing.assert_close(merged['running_mean'], together['running_mean'])
    torch.testing.assert_close(merged['running_var'], together['running_var'])
    pooled = torch.cat(domain_a + domain_b)
    torch.testing.assert_close(merged['running_var'], pooled.var(0, unbiased=False))
    assert int(merged['num_batches_tracked']) == 3
    # The mean rule misses the spread between the domain means.
    averaged = _merge('mean', [_accumulate(domain_a), _accumulate(domain_b)], [2 / 3, 1 / 3])
    assert (averaged['running_var'] < merged['running_var'] - 0.1).any()


def _stats(mean, var, batches):
    return {'running_mean': torch.tensor(mean), 'running_var': torch.tensor(var),
            'num_batches_tracked': torch.tensor(batches)}


def test_rules_by_hand():
    a, b = _stats([0., 4.], [1., 2.], 3), _stats([2., 0.], [3., 1.], 1)
    gauss = _merge('gaussian', [a, b], [0.5, 0.5])
    # counts 3:1 -> mean 0.75*a + 0.25*b; var adds the spread (mu_k - mu)^2.
    torch.testing.assert_close(gauss['running_mean'], torch.tensor([0.5, 3.0]))
    torch.testing.assert_close(gauss['running_var'],
                               torch.tensor([0.75 * (1 + 0.25) + 0.25 * (3 + 2.25), 0.75 * (2 + 1) + 0.25 * (1 + 9)]))
    weighted = _merge('gaussian-weighted', [a, b], [0.5, 0.5])
    torch.testing.assert_close(weighted['running_mean'], torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(weighted['running_var'], torch.tensor([0.5 * 2 + 0.5 * 4, 0.5 * 6 + 0.5 * 5]))
    mean = _merge('mean', [a, b], [0.25, 0.75])
    torch.testing.assert_close(mean['running_var'], torch.tensor([2.5, 1.25]))
    first = _merge('first', [a, b], [0.5, 0.5])
    assert torch.equal(first['running_mean'], a['running_mean']) and int(first['num_batches_tracked']) == 3
    assert int(gauss['num_batches_tracked']) == int(mean['num_batches_tracked']) == 4


def test_never_updated_layers_fall_back_to_the_weights():
    merger = BatchNormMerger('gaussian', [''])
    merger.add(_stats([0.], [1.], 0), 0.25)
    merger.add(_stats([4.], [1.], 0), 0.75)
    out = merger.result()
    torch.testing.assert_close(out['running_mean'], torch.tensor([3.0]))
    assert merger.fallbacks == ['']


def test_missing_counts_are_named():
    merger = BatchNormMerger('gaussian', ['decode_head.bn.'])
    with pytest.raises(ValueError, match='decode_head.bn has no num_batches_tracked'):
        merger.add({'decode_head.bn.running_mean': torch.zeros(1), 'decode_head.bn.running_var': torch.ones(1)}, 1.)
