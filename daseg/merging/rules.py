"""The parameter rules of merge.py: their options, checked before any work, and one accumulator per sub-model."""
import math

from ..errors import UserError
from .average import WeightedSum
from .task_vectors import Dare, TaskArithmetic, Ties

PARAM_MODES = ('linear', 'rebasin', 'task-arithmetic', 'ties', 'dare')
TASK_VECTOR_MODES = ('task-arithmetic', 'ties', 'dare')
# --base imagenet: the frozen ImageNet model that DACS keeps in each input when the feature distance is on.
IMAGENET_BASE = 'imagenet'
# Used when no validation data picks them: lambda 0.4 for task arithmetic, and lambda 1 with the top 20% for
# TIES, are the values of the TIES-Merging reference code's examples; p = 0.9 is a drop rate the DARE paper
# reports as harmless for fine-tuned language models (DARE then merges by task arithmetic).
DEFAULTS = {'task-arithmetic': {'scaling': 0.4}, 'ties': {'scaling': 1.0, 'density': 0.2},
            'dare': {'scaling': 0.4, 'drop': 0.9, 'seed': 0}}
_OPTION_NAMES = {'scaling': '--scaling', 'density': '--density', 'drop': '--drop', 'seed': '--seed'}


def check_rule(params, weights=None, base=None, scaling=None, density=None, drop=None, seed=None):
    """The options of one parameter rule, with the defaults filled in.

    Args:
        params (str): one of :data:`PARAM_MODES`.
        weights (list[float] | None): merge weights; only the averaging rules take them.
        base (str | None): checkpoint or ``'imagenet'``; required by, and only for, the task-vector rules.
        scaling, density, drop, seed: lambda, TIES's kept share, DARE's drop probability and mask seed;
            None = the rule's default, and refused for a rule that does not use them.

    Returns:
        dict: the rule's options (empty for linear and rebasin).
    """
    if params not in PARAM_MODES:
        raise UserError(f'--params must be one of {", ".join(PARAM_MODES)}, got {params!r}')
    given = {'scaling': scaling, 'density': density, 'drop': drop, 'seed': seed}
    defaults = DEFAULTS.get(params, {})
    unused = [_OPTION_NAMES[name] for name, value in given.items() if value is not None and name not in defaults]
    if unused:
        raise UserError(f'{unused[0]} does not apply to --params {params}')
    if params not in TASK_VECTOR_MODES:
        if base is not None:
            raise UserError(f'--base applies to --params {", ".join(TASK_VECTOR_MODES)}, not {params}')
        return {}
    if base is None:
        raise UserError(f'--params {params} needs --base: the checkpoint the inputs were trained from, or '
                        f'{IMAGENET_BASE} for the ImageNet model inside them')
    if weights is not None:
        raise UserError(f'--weights applies to --params linear and rebasin; {params} adds the task vectors '
                        'of all inputs (scale them with --scaling)')
    options = {name: defaults[name] if given[name] is None else given[name] for name in defaults}
    if not math.isfinite(options['scaling']):
        raise UserError(f'--scaling must be a finite number, got {options["scaling"]}')
    if 'density' in options and not 0 < options['density'] <= 1:
        raise UserError(f'--density must be in (0, 1], got {options["density"]}')
    if 'drop' in options and not 0 <= options['drop'] < 1:
        raise UserError(f'--drop must be in [0, 1), got {options["drop"]}')
    return options


def accumulator(params, keys, options, base=None, thresholds=None, label='model'):
    """The running merge of one sub-model's parameters: a :class:`WeightedSum` (``add(state_dict, weight)``)
    for the averaging rules, else a task-vector rule (``add(state_dict, index)``); ``result()`` for both.

    Args:
        params (str): the rule.
        keys (list[str]): the keys it merges (BatchNorm statistics are merged apart).
        options (dict): from :func:`check_rule`.
        base (dict[str, Tensor] | None): theta_base of the task-vector rules.
        thresholds (list[float] | None): TIES's per-input trim thresholds.
        label (str): the sub-model, part of DARE's mask seed.
    """
    if params == 'task-arithmetic':
        return TaskArithmetic(keys, base, options['scaling'])
    if params == 'ties':
        return Ties(keys, base, options['scaling'], thresholds)
    if params == 'dare':
        return Dare(keys, base, options['scaling'], options['drop'], options['seed'], label)
    return WeightedSum(keys)
