"""Union-set label sets, lifting, logit ensemble, consistency, MaxSquare and median thresholds, by hand."""
import numpy as np
import pytest
import torch

from daseg.errors import UserError
from daseg.models.unionset import (TABLES, ConfidenceHistogram, LabelSet, apply_thresholds, dequantise, label_sets,
                                   lift, logit_ensemble, max_square, quantise, shared_classes,
                                   shared_logit_consistency)

I = 255  # noqa: E741  (void, short for the hand-written arrays)

# Section 5.1 written out class by class (trainIds), independently of the module's groups.
P_SYNTHIA = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 17, 18]
P_OTHER = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16]
P_GTA_WITH_SYNSCAPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18]
N_SYNTHIA = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
N_OTHER = [9, 11, 12, 13, 14, 15, 16, 17, 18]
ROAD_TO_SKY = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
EXPECTED = {
    ('p', ('synscapes', 'synthia')): {'synscapes': P_OTHER, 'synthia': P_SYNTHIA},
    ('p', ('gta', 'synthia')): {'gta': P_OTHER, 'synthia': P_SYNTHIA},
    ('p', ('synscapes', 'gta', 'synthia')): {'synscapes': P_OTHER, 'gta': P_OTHER, 'synthia': P_SYNTHIA},
    ('p', ('synscapes', 'gta')): {'synscapes': P_OTHER, 'gta': P_GTA_WITH_SYNSCAPES},
    ('n', ('synscapes', 'synthia')): {'synscapes': N_OTHER, 'synthia': N_SYNTHIA},
    ('n', ('gta', 'synthia')): {'gta': N_OTHER, 'synthia': N_SYNTHIA},
    ('n', ('synscapes', 'gta')): {'synscapes': [11, 12, 13, 14, 15, 16, 17, 18], 'gta': ROAD_TO_SKY},
    ('n', ('synscapes', 'gta', 'synthia')): {'synscapes': [13, 14, 15, 16], 'gta': ROAD_TO_SKY,
                                             'synthia': [11, 12, 17, 18]},
}
SOURCE_COMBOS = [('synscapes', 'gta'), ('synscapes', 'synthia'), ('gta', 'synthia'), ('synscapes', 'gta', 'synthia')]
for _sources in SOURCE_COMBOS:
    EXPECTED[('f', _sources)] = {s: list(range(19)) for s in _sources}
# Local class counts by hand: K + 1 with "other", 19 in f.
EXPECTED_NUM_LOCAL = {14: 15, 15: 16, 10: 11, 9: 10, 8: 9, 11: 12, 4: 5}


@pytest.mark.parametrize('setting, sources', sorted(EXPECTED))
def test_tables_value_by_value(setting, sources):
    for order in (sources, sources[::-1]):
        sets = label_sets(setting, list(order))
        assert [ls.source for ls in sets] == list(order)
        for ls in sets:
            assert list(ls.known) == EXPECTED[(setting, sources)][ls.source]
            assert ls.has_other == (setting != 'f')
            assert ls.num_local == (19 if setting == 'f' else EXPECTED_NUM_LOCAL[len(ls.known)])
        assert set().union(*(ls.known for ls in sets)) == set(range(19))


def test_every_table_is_tested():
    assert {(s, frozenset(c)) for s, c in EXPECTED} == {(s, c) for s in TABLES for c in TABLES[s]}


def _set(setting, sources, source):
    return {ls.source: ls for ls in label_sets(setting, sources)}[source]


def test_local_indices_by_hand():
    synthia = _set('p', ['gta', 'synthia'], 'synthia')
    # known 0..8 -> 1..9, sky 10 -> 10, person 11, rider 12, motorcycle 13, bicycle 14; terrain, car -> other.
    assert [synthia.local_index(k) for k in (0, 8, 9, 10, 11, 12, 13, 17, 18)] == [1, 9, 0, 10, 11, 12, 0, 13, 14]
    gta = _set('p', ['gta', 'synthia'], 'gta')
    assert [gta.local_index(k) for k in (0, 10, 11, 13, 16, 18)] == [1, 11, 0, 12, 15, 0]
    synscapes = _set('n', ['synscapes', 'gta', 'synthia'], 'synscapes')
    assert [synscapes.local_index(k) for k in (0, 12, 13, 14, 15, 16, 17)] == [0, 0, 1, 2, 3, 4, 0]
    full = _set('f', ['gta', 'synthia'], 'gta')
    assert [full.local_index(k) for k in (0, 7, 18)] == [0, 7, 18]
    with pytest.raises(ValueError):
        gta.local_index(255)


def test_lut_and_to_local_with_void_both_ways():
    synthia = _set('n', ['synscapes', 'gta', 'synthia'], 'synthia')  # person 1, rider 2, motorcycle 3, bicycle 4
    labels = [[0, 11, I], [12, 17, 18], [13, I, 10]]
    as_other = [[0, 1, 0], [2, 3, 4], [0, 0, 0]]
    as_ignore = [[0, 1, I], [2, 3, 4], [0, I, 0]]
    for void, expected in (('other', as_other), ('ignore', as_ignore)):
        lut = synthia.lut(void)
        assert lut.shape == (256,) and lut.dtype == np.uint8
        np.testing.assert_array_equal(lut[np.array(labels)], expected)
        out = synthia.to_local(torch.tensor(labels), void)
        assert out.dtype == torch.long and out.shape == (3, 3)
        assert out.tolist() == expected
    full = _set('f', ['synscapes', 'gta'], 'gta')
    for void in ('other', 'ignore'):
        assert full.to_local(torch.tensor(labels), void).tolist() == labels
        assert full.lut(void)[I] == I
    with pytest.raises(UserError):
        synthia.lut('zero')


@pytest.mark.parametrize('setting, sources, message', [
    ('x', ['gta', 'synthia'], 'setting'),
    ('p', ['gta', 'cityscapes'], 'cityscapes'),
    ('p', ['gta', 'gta'], 'repeat'),
    ('p', ['gta', 'synthia', 'gta', 'synscapes'], 'repeat'),
    ('p', ['gta'], 'at least 2'),
    ('p', [], 'at least 2'),
    ('n', 'gta', 'list'),
])
def test_label_set_errors(setting, sources, message):
    with pytest.raises(UserError, match=message) as error:
        label_sets(setting, sources)
    assert '\n' not in str(error.value)


def test_undefined_combination_and_incomplete_union(monkeypatch):
    monkeypatch.delitem(TABLES['p'], frozenset(('synscapes', 'gta')))
    with pytest.raises(UserError, match='defines no label sets'):
        label_sets('p', ['synscapes', 'gta'])
    monkeypatch.setitem(TABLES['n'], frozenset(('synscapes', 'gta')), {'synscapes': (11, 12), 'gta': (0, 1)})
    with pytest.raises(RuntimeError, match='cover'):
        label_sets('n', ['synscapes', 'gta'])


def test_lift_hand_case():
    ls = LabelSet('gta', (0, 5, 10), True)  # 3 known + other; 16 classes share "other"
    probs = torch.tensor([0.4, 0.3, 0.2, 0.1]).view(1, 4, 1, 1)
    expected = [0.025] * 19
    expected[0], expected[5], expected[10] = 0.3, 0.2, 0.1
    out = lift(probs, ls)
    assert out.shape == (1, 19, 1, 1)
    np.testing.assert_allclose(out.flatten().numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize('setting', ['p', 'n', 'f'])
def test_lift_sums_to_one_and_f_is_identity(setting):
    for ls in label_sets(setting, ['synscapes', 'gta', 'synthia']):
        probs = torch.randn(2, ls.num_local, 3, 4).softmax(dim=1)
        out = lift(probs, ls)
        assert out.shape == (2, 19, 3, 4)
        torch.testing.assert_close(out.sum(dim=1), torch.ones(2, 3, 4))
        if setting == 'f':
            torch.testing.assert_close(out, probs, rtol=0, atol=0)
    with pytest.raises(ValueError):
        lift(torch.rand(1, 5, 2, 2), label_sets('p', ['gta', 'synthia'])[0])


def _slow_ensemble(logits, sets):
    """Per class, a stack of the logits of the heads that know it (local index written out again), averaged."""
    channels = []
    for k in range(19):
        values = []
        for x, ls in zip(logits, sets):
            if k in ls.known:
                local = sorted(ls.known).index(k) + 1 if ls.has_other else k
                values.append(x[:, local])
        channels.append(torch.stack(values).mean(dim=0))
    return torch.stack(channels, dim=1)


# Every combination, one of them in a reversed order.
COMBOS = [(s, list(c)) for s in ('p', 'n', 'f') for c in SOURCE_COMBOS + [('synthia', 'synscapes')]]


@pytest.mark.parametrize('setting, sources', COMBOS)
def test_logit_ensemble_matches_a_slow_loop(setting, sources):
    torch.manual_seed(0)
    sets = label_sets(setting, sources)
    logits = [torch.randn(2, ls.num_local, 3, 5, requires_grad=True) for ls in sets]
    ens = logit_ensemble(logits, sets)
    assert ens.shape == (2, 19, 3, 5)
    torch.testing.assert_close(ens, _slow_ensemble(logits, sets))
    ens.sum().backward()
    for x, ls in zip(logits, sets):
        if ls.has_other:  # "other" never enters the ensemble; every known channel does
            assert torch.all(x.grad[:, 0] == 0) and torch.all(x.grad[:, 1:] > 0)


def test_shared_classes_by_hand():
    assert shared_classes(label_sets('n', ['synscapes', 'gta', 'synthia'])) == ()
    assert shared_classes(label_sets('p', ['gta', 'synthia'])) == (0, 1, 2, 3, 4, 5, 6, 7, 8, 10)
    assert shared_classes(label_sets('p', ['synscapes', 'gta', 'synthia'])) == tuple(range(11)) + (13, 14, 15, 16)
    assert shared_classes(label_sets('f', ['gta', 'synthia'])) == tuple(range(19))


def test_shared_logit_consistency_two_custom_heads():
    a = LabelSet('a', tuple(range(18)), True)  # 17 -> local 18, 16 -> local 17
    b = LabelSet('b', (16, 17, 18), True)  # 16 -> local 1, 17 -> local 2
    xa, xb = torch.zeros(1, 19, 1, 2), torch.zeros(1, 4, 1, 2)
    xa[0, 18, 0] = torch.tensor([1., 4.])
    xb[0, 2, 0] = torch.tensor([3., 0.])
    xb[0, 1, 0] = torch.tensor([2., 2.])
    xb[0, 0] = 50.  # "other" never counts
    # class 17: m = [2, 2], |v_a - m| = [1, 2] -> 1.5, |v_b - m| = [1, 2] -> 1.5, term 3.
    # class 16: v_a = [0, 0], v_b = [2, 2], m = 1 -> term 1 + 1 = 2.  Mean over the 2 shared classes: 2.5.
    torch.testing.assert_close(shared_logit_consistency([xa, xb], [a, b]), torch.tensor(2.5))


def test_shared_logit_consistency_three_sources_and_gradient():
    sets = label_sets('p', ['synscapes', 'gta', 'synthia'])
    logits = [torch.zeros(1, ls.num_local, 2, 2) for ls in sets]
    logits[0][:, 1] = 3.  # road (local 1): synscapes 3, gta 0, synthia 0 -> m 1, term 2 + 1 + 1 = 4
    logits[0][:, 12] = 2.  # car (local 12): synscapes 2, gta 0 (synthia does not know it) -> term 1 + 1 = 2
    logits[2][:, 0] = 100.  # synthia's "other"
    logits[2][:, 11] = 7.  # synthia's person, known by nobody else
    logits = [x.requires_grad_() for x in logits]
    loss = shared_logit_consistency(logits, sets)
    torch.testing.assert_close(loss, torch.tensor(6 / 15))  # 15 shared classes: road..sky, car..train
    loss.backward()
    assert logits[0].grad[:, 1].abs().sum() > 0 and logits[1].grad[:, 12].abs().sum() > 0
    assert torch.all(logits[2].grad[:, 0] == 0) and torch.all(logits[2].grad[:, 11] == 0)


def test_shared_logit_consistency_is_a_differentiable_zero_in_n():
    sets = label_sets('n', ['synscapes', 'gta', 'synthia'])
    logits = [torch.randn(1, ls.num_local, 2, 2, dtype=torch.float64, requires_grad=True) for ls in sets]
    loss = shared_logit_consistency(logits, sets)
    assert loss.item() == 0 and loss.dim() == 0 and loss.dtype == torch.float64
    loss.backward()
    assert all(torch.all(x.grad == 0) for x in logits)


def test_max_square_by_hand():
    # image 1: pixel [0, 0] -> p = [.5, .5], sum p^2 = .5; pixel [ln 3, 0] -> p = [.75, .25], sum p^2 = .625
    # -> MS = -(.5 + .625) / 2 = -.5625.  image 2: two pixels [0, 0] -> -.5.  Batch mean -.53125.
    one = torch.tensor([[0., np.log(3.)], [0., 0.]], dtype=torch.float32).view(1, 2, 1, 2)  # channels x pixels
    torch.testing.assert_close(max_square(one), torch.tensor(-0.5625))
    two = torch.cat([one, torch.zeros(1, 2, 1, 2)])
    torch.testing.assert_close(max_square(two), torch.tensor(-0.53125))


def _sort_based_thresholds(label, conf, num_classes=19, cap=0.9):
    """The original: sort the confidences of each predicted class, take index round(0.5 * N), cap."""
    thresholds = np.zeros(num_classes, dtype=np.float32)
    for c in range(num_classes):
        values = np.sort(conf[label == c])
        if len(values):
            thresholds[c] = min(values[int(np.round(len(values) * 0.5))], np.float32(cap))
    return thresholds


def test_thresholds_hand_case():
    # bins 21: every value below is a multiple of 0.05, on the grid.
    hist = ConfidenceHistogram(num_classes=5, bins=21)
    hist.add(np.array([0, 0, 0, 0]), np.array([0.8, 0.2, 0.6, 0.4]))  # sorted index round(2.0) = 2 -> 0.6
    hist.add(torch.tensor([1, 1, 1, 1, 1, I]), torch.tensor([0.9, 0.1, 0.5, 0.7, 0.3, 0.0]))  # round(2.5) = 2
    hist.add(np.array([2, 2, 2, 2]), np.array([1.0, 0.95, 0.9, 0.95]))  # 0.95 -> capped 0.9
    hist.add(np.array([4, 4, 4]), np.array([0.2, 0.1, 0.3]))  # round(1.5) = 2 -> 0.3; class 3 stays empty
    np.testing.assert_array_equal(hist.num_pixels, [4, 5, 4, 0, 3])
    thresholds = hist.thresholds()
    assert thresholds.dtype == np.float32
    np.testing.assert_array_equal(thresholds, np.float32([0.6, 0.5, 0.9, 0.0, 0.3]))
    assert hist.thresholds(cap=None)[2] == np.float32(0.95)


def test_thresholds_equal_the_sort_based_original_on_the_grid():
    rng = np.random.default_rng(0)
    bins = 1001
    hist = ConfidenceHistogram(bins=bins)
    labels, confs = [], []
    for size in (1, 7, 100, 1000, 333):
        label = rng.integers(0, 16, size)  # classes 16..18 stay empty
        conf = (rng.integers(0, bins, size) / (bins - 1)).astype(np.float32)
        hist.add(torch.from_numpy(label) if size % 2 else label, conf)
        labels.append(label)
        confs.append(conf)
    label, conf = np.concatenate(labels), np.concatenate(confs)
    np.testing.assert_array_equal(hist.thresholds(), _sort_based_thresholds(label, conf))
    thresholds = hist.thresholds()
    expected = np.where(conf >= thresholds[label], label, I)
    np.testing.assert_array_equal(apply_thresholds(label, conf, thresholds, bins), expected)


def test_thresholds_off_the_grid_within_half_a_level():
    rng = np.random.default_rng(1)
    label, conf = rng.integers(0, 19, 5000), rng.random(5000).astype(np.float32)
    hist = ConfidenceHistogram()
    hist.add(label, conf)
    np.testing.assert_allclose(hist.thresholds(), _sort_based_thresholds(label, conf), rtol=0,
                               atol=0.5 / 65535 + 1e-7)


def test_quantise_round_trip_and_half_to_even():
    q = np.arange(65536)
    np.testing.assert_array_equal(quantise(dequantise(q)), q)
    assert quantise(np.array([0.25, 0.75]), bins=3).tolist() == [0, 2]  # 0.5 -> 0, 1.5 -> 2
    assert quantise(torch.tensor([0.5]), bins=11).tolist() == [5]


def test_apply_keeps_the_threshold_and_drops_below():
    thresholds = np.float32([0.6, 0.3])
    label = torch.tensor([[0, 0, 0, 0], [1, 1, I, 1]], dtype=torch.uint8)
    conf = torch.tensor([[0.2, 0.4, 0.6, 0.8], [0.3, 0.29, 0.9, 1.0]])
    out = apply_thresholds(label, conf, thresholds)
    assert out.dtype == torch.uint8
    assert out.tolist() == [[I, I, 0, 0], [1, I, I, 1]]
    assert label[0, 0] == 0  # the input is not modified
    numpy_out = apply_thresholds(label.numpy(), conf.numpy(), thresholds)
    np.testing.assert_array_equal(numpy_out, out.numpy())


def test_merge_equals_adding_everything_to_one():
    rng = np.random.default_rng(2)
    batches = [(rng.integers(0, 19, 200), rng.random(200)) for _ in range(4)]
    one, first, second = ConfidenceHistogram(bins=257), ConfidenceHistogram(bins=257), ConfidenceHistogram(bins=257)
    for i, (label, conf) in enumerate(batches):
        one.add(label, conf)
        (first if i % 2 else second).add(label, conf)
    assert first.merge(second) is first
    np.testing.assert_array_equal(first.counts, one.counts)
    np.testing.assert_array_equal(first.thresholds(), one.thresholds())
    assert first.updates == one.updates == 4
    with pytest.raises(ValueError):
        one.merge(ConfidenceHistogram(bins=256))


def test_state_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    hist = ConfidenceHistogram(num_classes=4, bins=101)
    hist.add(rng.integers(0, 4, 50), rng.random(50))
    state = hist.state()
    np.savez(tmp_path / 'hist.npz', **state)
    loaded = dict(np.load(tmp_path / 'hist.npz'))
    restored = ConfidenceHistogram.from_state(loaded)
    np.testing.assert_array_equal(restored.counts, hist.counts)
    np.testing.assert_array_equal(restored.thresholds(), hist.thresholds())
    assert (restored.num_classes, restored.bins, restored.updates) == (4, 101, 1)
    restored.add([0], [1.0])  # the restored one counts on, the saved state is a copy
    assert state['counts'][0].sum() == hist.counts[0].sum()
    bad = dict(state, counts=state['counts'][:, :50])
    with pytest.raises(UserError, match='counts'):
        ConfidenceHistogram.from_state(bad)
    with pytest.raises(UserError, match='keys'):
        ConfidenceHistogram.from_state({'bins': 101})


def test_histogram_input_errors():
    hist = ConfidenceHistogram(num_classes=3, bins=11)
    with pytest.raises(ValueError, match='shape'):
        hist.add(np.zeros(3, int), np.zeros(4))
    with pytest.raises(ValueError, match='labels'):
        hist.add(np.array([3]), np.array([0.5]))
    with pytest.raises(ValueError, match='confidences'):
        hist.add(np.array([0, 1]), np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match='confidences'):
        hist.add(np.array([0]), np.array([np.nan]))
