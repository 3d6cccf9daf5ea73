"""UDADataset pairing and rare-class sampling: closed-form probabilities, min_pixels filtering, crop
retries, index mapping, sampling frequencies, errors, and items built from a tiny generated GTA set."""
import logging
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

import daseg  # noqa: F401  (registers the datasets and transforms)
from daseg.datasets import PositionSampler, UDADataset
from daseg.datasets.convert.class_stats import write_class_stats
from daseg.datasets.rare_class_sampling import RareClassSampler
from daseg.errors import UserError
from tiny_demo import tiny_demo as converted_demo


class FakeDataset:
    """A dataset of crafted packed samples; records every index it loads.

    Args:
        root (str): data_root.
        files (list[str]): Label paths relative to root, one per sample.
        label (Callable[[int], np.ndarray] | None): Label of sample i at each load (a fresh "crop");
            None: unlabelled samples.
    """

    def __init__(self, root, files, label=None):
        self.data_root = str(root)
        self.files = files
        self.label = label
        self.loads = []
        self.metainfo = dict(classes=('a', 'b'), palette=[[0, 0, 0], [1, 1, 1]])

    def __len__(self):
        return len(self.files)

    def get_data_info(self, i):
        return dict(seg_map_path=osp.join(self.data_root, self.files[i]))

    def __getitem__(self, i):
        self.loads.append(i)
        sample = SegDataSample()
        if self.label is not None:
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(self.label(i))[None])
        return dict(inputs=torch.full((3, 2, 2), i), data_samples=sample)


def write_stats(root, per_file):
    """Write the statistics files for {file: {class: pixels}} with the converters' writer."""
    write_class_stats(str(root), [{'file': f, **{str(c): n for c, n in counts.items()}}
                                  for f, counts in per_file.items()])


def closed_form(pixels, temperature, classes):
    """P(c) = exp((1 - f_c) / T) / sum over `classes`, f_c = pixels[c] / all pixels, computed by hand."""
    total = sum(pixels.values())
    weights = {c: math.exp((1 - pixels[c] / total) / temperature) for c in classes}
    return [weights[c] / sum(weights.values()) for c in classes]


def label_with(c, n, size=100):
    """A size x size label holding n pixels of class c, the rest ignored."""
    label = np.full(size * size, 255, np.int64)
    label[:n] = c
    return label.reshape(size, size)


@pytest.fixture
def logged_warnings():
    """Messages of the warnings logged through mmengine's current logger during the test."""
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


@pytest.mark.parametrize('temperature', [0.01, 1.0])
def test_probabilities_match_closed_form(tmp_path, temperature):
    write_stats(tmp_path, {'labels/a.png': {0: 4000, 5: 3000}, 'labels/b.png': {0: 2000, 12: 1000}})
    source = FakeDataset(tmp_path, ['labels/a.png', 'labels/b.png'])
    rcs = RareClassSampler(source, class_temp=temperature, min_pixels=0)
    assert rcs.rcs_classes == [0, 5, 12]
    expected = closed_form({0: 6000, 5: 3000, 12: 1000}, temperature, [0, 5, 12])
    np.testing.assert_allclose(rcs.rcs_probs, expected, rtol=1e-12)
    if temperature == 0.01:  # f = 0.6, 0.3, 0.1: the rarest class takes almost everything
        assert rcs.rcs_probs[2] > 1 - 1e-8


def test_min_pixels_filters_files_and_classes(tmp_path):
    pixels = {'labels/a.png': {0: 5000, 5: 3000}, 'labels/b.png': {0: 3001, 12: 10},
              'labels/c.png': {0: 100, 5: 2999, 12: 20}, 'labels/d.png': {12: 3500}}
    write_stats(tmp_path, pixels)
    source = FakeDataset(tmp_path, list(pixels))
    rcs = RareClassSampler(source, class_temp=1.0, min_pixels=3000)
    # Class 5 never has more than 3000 pixels in one file: dropped. Frequencies still count every class.
    assert rcs.rcs_classes == [0, 12]
    np.testing.assert_array_equal(rcs.class_samples[0], [0, 1])
    np.testing.assert_array_equal(rcs.class_samples[12], [3])
    totals = {0: 8101, 5: 5999, 12: 3530}
    np.testing.assert_allclose(rcs.rcs_probs, closed_form(totals, 1.0, [0, 12]), rtol=1e-12)
    np.random.seed(0)
    assert {rcs.sample_index(0) for _ in range(100)} == {0, 1}


def test_stats_outside_the_dataset_are_ignored_with_one_warning(tmp_path, logged_warnings):
    write_stats(tmp_path, {'labels/a.png': {0: 600, 1: 400}, 'labels/val1.png': {0: 10 ** 6, 9: 5000},
                           'labels/val2.png': {9: 5000}})
    source = FakeDataset(tmp_path, ['labels/a.png'])  # e.g. an ann_file listing the training split only
    rcs = RareClassSampler(source, class_temp=1.0, min_pixels=0)
    assert rcs.rcs_classes == [0, 1]  # class 9 only appears in files of other splits
    np.testing.assert_allclose(rcs.rcs_probs, closed_form({0: 600, 1: 400}, 1.0, [0, 1]), rtol=1e-12)
    unmatched = [m for m in logged_warnings if 'not samples of' in m]
    assert len(unmatched) == 1 and '2 of 3 files' in unmatched[0]


def crop_source(tmp_path, counts):
    """A one-file source whose successive loads hold counts[k] pixels of class 3 (the last one repeats)."""
    write_stats(tmp_path, {'labels/a.png': {3: 5000}})
    loads = iter(counts)
    last = [counts[-1]]

    def label(i):
        last[0] = next(loads, last[0])
        return label_with(3, last[0])
    return FakeDataset(tmp_path, ['labels/a.png'], label)


@pytest.mark.parametrize('counts, loads, kept', [
    ([0, 100, 2000, 4000], 3, 2000),  # 1500 = 3000 * 0.5 is the bar; the third crop passes it
    ([1500] * 20, 10, 1500),          # never more than 1500: stops after 10 loads, keeps the last
    ([1501], 1, 1501),
])
def test_crop_is_reloaded_until_it_shows_the_class(tmp_path, counts, loads, kept):
    source = crop_source(tmp_path, counts)
    rcs = RareClassSampler(source, min_pixels=3000, min_crop_ratio=0.5)
    sample = rcs.sample()
    assert len(source.loads) == loads
    assert rcs.class_pixels(sample, 3) == kept


def test_crop_ratio_zero_and_max_attempts(tmp_path):
    assert len(_loads_of(tmp_path / 'a', min_crop_ratio=0)) == 1
    assert len(_loads_of(tmp_path / 'b', max_attempts=3)) == 3


def _loads_of(root, **options):
    root.mkdir()
    source = crop_source(root, [0])
    RareClassSampler(source, min_pixels=3000, **options).sample()
    return source.loads


def test_random_crops_reach_the_class_when_possible(tmp_path):
    """A 40x40 block of class 7 in a 100x100 label, seen through random 50x50 crops."""
    write_stats(tmp_path, {'labels/a.png': {7: 1600}})
    full = np.full((100, 100), 255, np.int64)
    full[:40, :40] = 7

    def random_crop(i):
        y, x = np.random.randint(0, 51, size=2)
        return full[y:y + 50, x:x + 50]
    source = FakeDataset(tmp_path, ['labels/a.png'], random_crop)
    rcs = RareClassSampler(source, min_pixels=1000, min_crop_ratio=0.5)
    np.random.seed(0)
    shown = 0
    for _ in range(50):
        source.loads.clear()
        sample = rcs.sample()
        assert 1 <= len(source.loads) <= 10
        assert rcs.class_pixels(sample, 7) > 500 or len(source.loads) == 10
        shown += rcs.class_pixels(sample, 7) > 500
    # One crop in five shows more than 500 pixels of class 7; ten attempts succeed with P = 1 - 0.79^10 = 0.9.
    assert shown >= 40


def test_class_draws_follow_the_probabilities(tmp_path):
    write_stats(tmp_path, {'labels/a.png': {0: 5000, 1: 3000, 2: 2000}})
    rcs = RareClassSampler(FakeDataset(tmp_path, ['labels/a.png']), class_temp=0.1, min_pixels=0)
    np.random.seed(0)
    draws = np.array([rcs.sample_class() for _ in range(4000)])
    frequencies = [np.mean(draws == c) for c in rcs.rcs_classes]
    # P = (0.035, 0.259, 0.705); 0.03 is over four standard deviations of a frequency over 4000 draws.
    np.testing.assert_allclose(frequencies, closed_form({0: 5000, 1: 3000, 2: 2000}, 0.1, [0, 1, 2]), atol=0.03)


def test_positions_without_rcs(tmp_path):
    source = FakeDataset(tmp_path, ['s0', 's1', 's2'], lambda i: label_with(0, 1, 2))
    target = FakeDataset(tmp_path, ['t0', 't1'])
    ds = UDADataset(source, target)
    assert len(ds) == 3 and ds.rcs_classes is None and ds.metainfo == source.metainfo
    # Without a seed, the position is the source index.
    assert [int(ds[i]['inputs'][0, 0, 0]) for i in range(3)] == [0, 1, 2]
    assert set(ds[0]) == {'inputs', 'data_samples', 'target_inputs', 'target_data_samples'}
    with pytest.raises(IndexError):
        ds[3]
    # With a seed, every pass of 3 positions visits each source once, in a new order, and an item depends
    # on (seed, position) alone, whatever was drawn before.
    ds.set_seed(5)
    passes = [[int(ds[p]['inputs'][0, 0, 0]) for p in range(k * 3, k * 3 + 3)] for k in range(4)]
    assert all(sorted(order) == [0, 1, 2] for order in passes)
    assert len({tuple(order) for order in passes}) > 1
    targets = [int(ds[p]['target_inputs'][0, 0, 0]) for p in range(40)]
    np.random.seed(123)
    assert [int(ds[p]['target_inputs'][0, 0, 0]) for p in range(40)] == targets
    assert set(targets) == {0, 1}


def test_rcs_pairs_candidates_with_uniform_targets(tmp_path):
    write_stats(tmp_path, {'labels/a.png': {0: 10}, 'labels/b.png': {0: 5000}})
    source = FakeDataset(tmp_path, ['labels/a.png', 'labels/b.png'], lambda i: label_with(0, 5000))
    target = FakeDataset(tmp_path, ['t0', 't1', 't2'])
    ds = UDADataset(source, target, rare_class_sampling=dict(min_pixels=3000))
    np.random.seed(0)
    for _ in range(60):
        ds[0]
    assert set(source.loads) == {1}  # file a has too few pixels of class 0 to be a candidate
    counts = np.bincount(target.loads, minlength=3)
    assert counts.sum() == 60 and counts.min() >= 10
    assert ds.rcs_classes == [0] and ds.rcs_probs.tolist() == [1.0]


def test_errors_name_the_problem(tmp_path):
    write_stats(tmp_path, {'labels/a.png': {0: 10}})
    source = FakeDataset(tmp_path, ['labels/a.png'], lambda i: label_with(0, 10))
    with pytest.raises(UserError, match=r"target dataset FakeDataset \(data_root '.*empty'\) has no samples"):
        UDADataset(source, FakeDataset(tmp_path / 'empty', []))
    with pytest.raises(UserError, match='unknown rare_class_sampling option.*class_temperature'):
        UDADataset(source, source, rare_class_sampling=dict(class_temperature=0.1))
    with pytest.raises(UserError, match='no class .* more than min_pixels=3000'):
        UDADataset(source, source, rare_class_sampling=dict())
    with pytest.raises(UserError, match='needs labelled source samples'):
        unlabelled = FakeDataset(tmp_path, ['labels/a.png'])
        unlabelled.get_data_info = lambda i: {}
        RareClassSampler(unlabelled)
    gta_like = type('GTADataset', (FakeDataset,), {})(tmp_path / 'nostats', ['labels/a.png'])
    with pytest.raises(UserError, match=r"'.*nostats/sample_class_stats.json' does not exist; write it with "
                                        r'`tools/convert_datasets/gta.py'):
        RareClassSampler(gta_like)
    (tmp_path / 'samples_with_class.json').unlink()
    with pytest.raises(UserError, match='samples_with_class.json'):
        RareClassSampler(source)


@pytest.fixture(scope='module')
def tiny_demo(tmp_path_factory):
    """GTA-like source (7 train + 1 val images, 64x36, converted) and Dark Zurich-like night images."""
    root = tmp_path_factory.mktemp('uda')
    return converted_demo(root, ('gta', 'darkzurich'), convert=('gta',))  # GTA statistics of all 8 labels, val included


def test_items_from_a_tiny_gta_set_and_unlabelled_target(tiny_demo, logged_warnings):
    init_default_scope('mmseg')
    crop = [dict(type='RandomCrop', crop_size=(32, 32)), dict(type='PackSegInputs')]
    ds = DATASETS.build(dict(
        type='UDADataset',
        source=dict(type='GTADataset', data_root=str(tiny_demo / 'gta'), ann_file='train.txt',
                    pipeline=[dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), *crop]),
        target=dict(type='CheckedDarkZurichDataset', data_root=str(tiny_demo / 'darkzurich'),
                    data_prefix=dict(img_path='rgb_anon/train/night'),
                    pipeline=[dict(type='LoadImageChecked'), *crop]),
        rare_class_sampling=dict(class_temp=0.01, min_pixels=50, min_crop_ratio=0.5)))
    assert len(ds) == 7
    assert len(ds.metainfo['classes']) == 19 and len(ds.metainfo['palette']) == 19
    assert any('1 of 8 files' in m for m in logged_warnings)  # the val label is not in train.txt
    assert ds.rcs_probs.sum() == pytest.approx(1.0) and len(ds.rcs_classes) == len(ds.rcs_probs)

    np.random.seed(3)
    batch = pseudo_collate([ds[0], ds[1]])
    assert set(batch) == {'inputs', 'data_samples', 'target_inputs', 'target_data_samples'}
    assert all(len(v) == 2 for v in batch.values())
    assert batch['inputs'][0].shape == batch['target_inputs'][0].shape == (3, 32, 32)
    assert batch['inputs'][0].dtype == torch.uint8
    assert batch['data_samples'][0].gt_sem_seg.shape == (32, 32)
    assert 'gt_sem_seg' not in batch['target_data_samples'][0]
    assert batch['target_data_samples'][0].img_path.endswith('_rgb_anon.png')

    np.random.seed(3)
    again = ds[0]
    assert torch.equal(again['inputs'], batch['inputs'][0])
    assert torch.equal(again['target_inputs'], batch['target_inputs'][0])


def test_position_sampler_streams_skips_and_seeds(tmp_path):
    source = FakeDataset(tmp_path, ['s0', 's1', 's2'], lambda i: label_with(0, 1, 2))
    ds = UDADataset(source, FakeDataset(tmp_path, ['t0']))
    sampler = PositionSampler(ds, seed=11)
    assert ds.seed == 11
    stream = iter(sampler)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    sampler.skip(7)  # resume after 7 samples: the stream continues where a straight run would be
    stream = iter(sampler)
    assert [next(stream) for _ in range(3)] == [7, 8, 9]
