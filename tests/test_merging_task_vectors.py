"""Task arithmetic, TIES and DARE against hand-computed results; merging copies of one model returns it."""
import pytest
import torch

from daseg.errors import UserError
from daseg.merging import merge_checkpoints
from daseg.merging.rules import check_rule
from daseg.merging.task_vectors import Dare, TaskArithmetic, Ties, trim_threshold
from daseg.weights import load_checkpoint_file
from merging_models import build_segmentor

QUIET = dict(log=lambda line: None)


def _t(*values):
    return torch.tensor(values, dtype=torch.float32)


def _merge(rule, models):
    for k, model in enumerate(models):
        rule.add(model, k)
    return rule.result()


def _thresholds(base, models, density):
    return [trim_threshold([m[k] - base[k] for k in base], density) for m in models]


def test_task_arithmetic_by_hand():
    base = {'w': _t(0, 1, 2), 'steps': torch.tensor(7)}
    models = [{'w': _t(1, 1, 4), 'steps': torch.tensor(7)}, {'w': _t(-1, 3, 2), 'steps': torch.tensor(9)}]
    # tau = [1, 0, 2] and [-1, 2, 0]; sum [0, 2, 2].
    out = _merge(TaskArithmetic(['w', 'steps'], base, scaling=0.5), models)
    torch.testing.assert_close(out['w'], _t(0, 2, 3))
    assert int(out['steps']) == 7  # integers come from the first model
    out = _merge(TaskArithmetic(['w'], base, scaling=1.0), models)
    torch.testing.assert_close(out['w'], _t(0, 3, 4))  # lambda 1: the plain sum of the task vectors


def test_trim_threshold_by_hand():
    vector = [_t(0.1, -5), _t(3, 2)]
    assert trim_threshold(vector, 0.5) == 3  # the 2 largest of 4 magnitudes
    assert trim_threshold(vector, 0.3) == 3  # ceil(1.2) = 2 kept
    assert trim_threshold(vector, 0.25) == 5
    assert trim_threshold(vector, 1.0) == pytest.approx(0.1)  # density 1 keeps every entry
    assert trim_threshold([_t(1, -1, 1, 1)], 0.25) == 1  # entries tied at the threshold are all kept


def _ties_inputs():
    base = {'a': torch.zeros(4), 'b': torch.zeros(2)}
    models = [{'a': _t(3, -1, 0.5, 2), 'b': _t(-4, 0.1)},
              {'a': _t(-2, 4, -0.5, -2), 'b': _t(1, 0.2)}]
    return base, models


def test_ties_trim_elect_disjoint_mean_by_hand():
    base, models = _ties_inputs()
    # Density 0.5 keeps 3 of 6 entries per model, over the whole model (both keys):
    #   model 1: |.| >= 2 -> a [3, 0, 0, 2], b [-4, 0];  model 2: |.| >= 2 -> a [-2, 4, 0, -2], b [0, 0].
    thresholds = _thresholds(base, models, 0.5)
    assert thresholds == [2, 2]
    # Sums a [1, 4, 0, 0], b [-4, 0]: signs +, +, (none), tie; -, (none). The elected signs sum to +1, so the
    # tie a[3] takes +, and its agreeing entry is model 1's 2. Disjoint means: a [3, 4, 0, 2], b [-4, 0].
    out = _merge(Ties(['a', 'b'], base, scaling=1.0, thresholds=thresholds), models)
    torch.testing.assert_close(out['a'], _t(3, 4, 0, 2))
    torch.testing.assert_close(out['b'], _t(-4, 0))
    # Negated task vectors: the majority is -, so the tie takes - and everything flips.
    negated = [{k: -v for k, v in m.items()} for m in models]
    out = _merge(Ties(['a', 'b'], base, scaling=0.5, thresholds=thresholds), negated)
    torch.testing.assert_close(out['a'], _t(-1.5, -2, 0, -1))
    torch.testing.assert_close(out['b'], _t(2, 0))


def test_ties_density_one_averages_agreeing_entries():
    base = {'w': _t(1, 1)}
    models = [{'w': _t(2, 0)}, {'w': _t(4, 3)}, {'w': _t(0, 4)}]  # tau [1, -1], [3, 2], [-1, 3]
    thresholds = _thresholds(base, models, 1.0)
    out = _merge(Ties(['w'], base, scaling=1.0, thresholds=thresholds), models)
    # Entry 0: sum 3 > 0, agreeing 1 and 3 -> 2; entry 1: sum 4 > 0, agreeing 2 and 3 -> 2.5.
    torch.testing.assert_close(out['w'], _t(3, 3.5))
    agreeing = [{'w': _t(2, 3)}, {'w': _t(4, 2)}]  # no sign conflict: TIES at density 1 is the mean task vector
    out = _merge(Ties(['w'], base, 1.0, _thresholds(base, agreeing, 1.0)), agreeing)
    torch.testing.assert_close(out['w'], base['w'] + (_t(1, 2) + _t(3, 1)) / 2)


def test_dare_drops_rescales_and_is_reproducible():
    base = {'w': torch.zeros(2000)}
    models = [{'w': torch.full((2000,), 1.5)}, {'w': torch.full((2000,), -0.5)}]
    first = _merge(Dare(['w'], base, 1.0, drop=0.75, seed=3), models)
    assert torch.equal(first['w'], _merge(Dare(['w'], base, 1.0, drop=0.75, seed=3), models)['w'])
    assert not torch.equal(first['w'], _merge(Dare(['w'], base, 1.0, drop=0.75, seed=4), models)['w'])
    # Each entry is the sum of the kept rescaled entries: 0, 6 (model 1 kept), -2 (model 2 kept) or 4 (both).
    values = set(first['w'].tolist())
    assert values <= {0.0, 6.0, -2.0, 4.0} and len(values) == 4
    kept = (first['w'] == 6).float().mean() + (first['w'] == 4).float().mean()
    assert abs(float(kept) - 0.25) < 0.04  # model 1 keeps 1 - p of its entries
    plain = _merge(TaskArithmetic(['w'], base, 0.4), models)['w']
    torch.testing.assert_close(_merge(Dare(['w'], base, 0.4, drop=0.0, seed=0), models)['w'], plain)


def _checkpoint(path, state):
    torch.save({'state_dict': {f'model.{k}': v for k, v in state.items()}}, path)
    return str(path)


@pytest.mark.parametrize('params, options', [
    ('linear', {}),
    ('task-arithmetic', {'scaling': 1 / 3}),
    ('ties', {'density': 1.0, 'scaling': 1.0}),
    ('dare', {'drop': 0.0, 'scaling': 1 / 3}),
])
def test_merging_copies_of_one_model_returns_it(tmp_path, params, options):
    model = build_segmentor(seed=0).state_dict()
    base = build_segmentor(seed=1).state_dict()
    path = _checkpoint(tmp_path / 'a.pth', model)
    extra = {} if params == 'linear' else {'base': _checkpoint(tmp_path / 'base.pth', base), **options}
    out = merge_checkpoints([path] * 3, str(tmp_path / 'm.pth'), params=params, **extra, **QUIET)[0]
    ckpt = load_checkpoint_file(out)
    for key, value in model.items():
        if key.endswith('num_batches_tracked'):
            assert int(ckpt['state_dict']['model.' + key]) == 3 * int(value)
        else:
            torch.testing.assert_close(ckpt['state_dict']['model.' + key], value, rtol=1e-5, atol=1e-5, msg=key)
    if params != 'linear':
        assert ckpt['meta']['merge']['base']['sha256'] and ckpt['meta']['merge']['options']['scaling'] == \
            options['scaling']


def test_merge_of_two_models_matches_the_formulas(tmp_path):
    models = [build_segmentor(seed=s).state_dict() for s in range(2)]
    base = build_segmentor(seed=2).state_dict()
    paths = [_checkpoint(tmp_path / f'{k}.pth', m) for k, m in enumerate(models)]
    base_path = _checkpoint(tmp_path / 'base.pth', base)
    key = 'backbone.layer2.0.conv2.weight'
    out = merge_checkpoints(paths, str(tmp_path / 'ta.pth'), params='task-arithmetic', base=base_path, **QUIET)
    state = load_checkpoint_file(out[0])['state_dict']
    expected = base[key] + 0.4 * (models[0][key] - base[key] + models[1][key] - base[key])
    torch.testing.assert_close(state['model.' + key], expected)
    out = merge_checkpoints(paths, str(tmp_path / 'dare.pth'), params='dare', base=base_path, seed=5, **QUIET)
    again = merge_checkpoints(paths, str(tmp_path / 'dare2.pth'), params='dare', base=base_path, seed=5, **QUIET)
    first, second = (load_checkpoint_file(p[0])['state_dict'] for p in (out, again))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_rule_options_are_checked():
    assert check_rule('ties', base='b.pth') == {'scaling': 1.0, 'density': 0.2}
    assert check_rule('linear') == {}
    for kwargs, message in [
        (dict(params='ties'), '--params ties needs --base'),
        (dict(params='linear', base='b.pth'), '--base applies to'),
        (dict(params='task-arithmetic', base='b.pth', density=0.5), '--density does not apply'),
        (dict(params='ties', base='b.pth', density=0), r'--density must be in \(0, 1\]'),
        (dict(params='dare', base='b.pth', drop=1), r'--drop must be in \[0, 1\)'),
        (dict(params='dare', base='b.pth', weights=[0.5, 0.5]), '--weights applies to'),
        (dict(params='ties', base='b.pth', seed=1), '--seed does not apply'),
    ]:
        with pytest.raises(UserError, match=message):
            check_rule(**kwargs)
