"""UDADataset with several source / target datasets: draw frequencies against the closed forms of 'concat'
(proportional to the sizes) and 'balanced' (equal shares per domain, uniform inside), determinism per
(seed, position), the domain recorded in the metainfo, and the errors."""
import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from scipy.stats import chi2

import daseg  # noqa: F401  (registers the datasets)
from daseg.datasets import UDADataset
from daseg.errors import UserError

CLASSES = dict(classes=('a', 'b'), palette=[[0, 0, 0], [1, 1, 1]])
SIZES = (10, 30)  # two domains; their sample values are 1000 * domain + index
POSITIONS = 4000


class Domain:
    """A dataset of ``size`` packed samples whose image holds ``1000 * domain + index``."""

    def __init__(self, domain, size, metainfo=CLASSES):
        self.domain, self.size, self.metainfo = domain, size, metainfo
        self.data_root = f'/nowhere/{domain}'

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return dict(inputs=torch.full((1, 1, 1), 1000 * self.domain + i), data_samples=SegDataSample())


DATASETS.register_module(name='MultiDomainTestSet', module=Domain, force=True)


def domains(sizes=SIZES, **options):
    return [Domain(k, n, **options) for k, n in enumerate(sizes)]


def values(ds, key, positions):
    return np.array([int(ds[p][key][0, 0, 0]) for p in positions])


def within_binomial(frequency, p, n, sigmas=4.0):
    """|frequency - p| within ``sigmas`` binomial standard deviations sqrt(p (1 - p) / n)."""
    return abs(frequency - p) <= sigmas * np.sqrt(p * (1 - p) / n)


def chi_square_fits(drawn, expected_probs, alpha=1e-4):
    """Pearson's chi-square of the counts of every sample value against their probabilities, at level alpha."""
    keys = sorted(expected_probs)
    counts = np.array([np.sum(drawn == k) for k in keys])
    expected = len(drawn) * np.array([expected_probs[k] for k in keys])
    assert counts.sum() == len(drawn)  # nothing outside the expected values
    return ((counts - expected) ** 2 / expected).sum() <= chi2.ppf(1 - alpha, len(keys) - 1)


def sample_probs(shares):
    """P(value) for each domain share: uniform over the samples of a domain."""
    return {1000 * k + i: share / n for k, (n, share) in enumerate(zip(SIZES, shares)) for i in range(n)}


CONCAT = [n / sum(SIZES) for n in SIZES]  # 0.25, 0.75
BALANCED = [0.5, 0.5]


@pytest.mark.parametrize('mode, shares', [('concat', CONCAT), ('balanced', BALANCED)])
def test_target_draws_follow_the_closed_form(mode, shares):
    ds = UDADataset(Domain(0, 5), domains(), domain_sampling=mode)
    ds.set_seed(3)
    drawn = values(ds, 'target_inputs', range(POSITIONS))
    for k, share in enumerate(shares):
        assert within_binomial(np.mean(drawn // 1000 == k), share, POSITIONS), (k, np.mean(drawn // 1000 == k))
    assert chi_square_fits(drawn, sample_probs(shares))
    # The other law is far outside the tolerance: the test tells the two apart.
    other = BALANCED if mode == 'concat' else CONCAT
    assert not within_binomial(np.mean(drawn // 1000 == 0), other[0], POSITIONS)


def test_concat_source_visits_every_sample_once_per_pass():
    ds = UDADataset(domains(), Domain(0, 5))
    ds.set_seed(7)
    assert len(ds) == sum(SIZES)
    passes = values(ds, 'inputs', range(5 * len(ds))).reshape(5, len(ds))
    everything = sorted(1000 * k + i for k, n in enumerate(SIZES) for i in range(n))
    assert all(sorted(p) == everything for p in passes)  # so each domain exactly in proportion to its size
    assert len({tuple(p) for p in passes}) == 5  # a new order every pass, domains interleaved
    assert 0 < np.mean(passes[0][:20] // 1000) < 1


def test_balanced_source_gives_each_domain_half():
    ds = UDADataset(domains(), Domain(0, 5), domain_sampling=dict(source='balanced'))
    ds.set_seed(7)
    drawn = values(ds, 'inputs', range(POSITIONS))
    assert within_binomial(np.mean(drawn // 1000 == 0), 0.5, POSITIONS)
    assert chi_square_fits(drawn, sample_probs(BALANCED))
    # The target was left at 'concat'; with one target dataset both modes draw the same.
    assert ds.targets.sampling == 'concat'


def test_items_depend_on_seed_and_position_only():
    def build(seed, **options):
        ds = UDADataset(domains(), domains(), **options)
        ds.set_seed(seed)
        return ds
    for mode in ('concat', 'balanced'):
        ds = build(5, domain_sampling=mode)
        positions = [17, 3, 3000, 0]
        first = [(values(ds, 'inputs', [p])[0], values(ds, 'target_inputs', [p])[0]) for p in positions]
        np.random.seed(99)  # whatever happened before
        values(ds, 'inputs', range(50))
        again = build(5, domain_sampling=mode)
        assert [(values(again, 'inputs', [p])[0], values(again, 'target_inputs', [p])[0])
                for p in reversed(positions)] == first[::-1]
        other = build(6, domain_sampling=mode)
        assert values(other, 'target_inputs', range(40)).tolist() != values(ds, 'target_inputs', range(40)).tolist()


def test_a_list_of_one_draws_like_a_single_dataset_and_records_the_domain():
    single, listed = UDADataset(Domain(0, 7), Domain(1, 4)), UDADataset([Domain(0, 7)], [Domain(1, 4)],
                                                                         domain_sampling='balanced')
    for ds in (single, listed):
        ds.set_seed(2)
    for key in ('inputs', 'target_inputs'):
        assert values(single, key, range(30)).tolist() == values(listed, key, range(30)).tolist()
    assert 'domain' not in single[0]['data_samples'] and listed[0]['target_data_samples'].domain == 0
    # Configs are built through DATASETS, one per domain.
    several = UDADataset([dict(type='MultiDomainTestSet', domain=k, size=n) for k, n in enumerate(SIZES)], domains())
    assert [len(d) for d in several.sources.datasets] == list(SIZES)
    several.set_seed(1)
    for p in range(20):
        item = several[p]
        for key in ('', 'target_'):
            assert item[f'{key}data_samples'].domain == int(item[f'{key}inputs'][0, 0, 0]) // 1000


def test_without_a_seed_the_position_indexes_the_concatenation():
    ds = UDADataset(domains(), Domain(0, 5))
    assert values(ds, 'inputs', [0, 9, 10, 39]).tolist() == [0, 9, 1000, 1029]
    with pytest.raises(IndexError):
        ds[40]


def test_errors_name_the_problem():
    other = dict(classes=('a', 'c'), palette=CLASSES['palette'])
    with pytest.raises(UserError, match=r"target 1 \(Domain\) and source 0 \(Domain\) label different classes "
                                        r"\(class 1 is 'c' vs 'b'\)"):
        UDADataset(domains(), [Domain(0, 3), Domain(1, 3, metainfo=other)])
    with pytest.raises(UserError, match=r'target \(Domain\) and source 0 \(Domain\) label different classes '
                                        r'\(3 vs 2 classes\)'):
        UDADataset(domains(), Domain(0, 3, metainfo=dict(classes=('a', 'b', 'c'))))
    UDADataset(domains(), Domain(0, 3, metainfo={}))  # an unlabelled folder without classes is not compared
    with pytest.raises(UserError, match='source is an empty list'):
        UDADataset([], Domain(0, 3))
    with pytest.raises(UserError, match="domain_sampling for the target must be one of concat, balanced, got 'equal'"):
        UDADataset(domains(), domains(), domain_sampling=dict(target='equal'))
    with pytest.raises(UserError, match='unknown domain_sampling key.*sources'):
        UDADataset(domains(), domains(), domain_sampling=dict(sources='balanced'))
    for option in ('rare_class_sampling', 'paste'):
        with pytest.raises(UserError, match=f'{option} needs a single source dataset .*, got 2'):
            UDADataset(domains(), Domain(0, 3), **{option: dict()})
