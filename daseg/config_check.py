"""Config typos refused before any work, with the key, its place and the nearest valid name.

mmengine passes the keys of a config dict to its registered class as keyword arguments: a typo inside one
(``train_cfg.max_iter``, ``decode_head.num_clases``) ends in a TypeError traceback, or is silently ignored where the
class takes ``**kwargs``; a typo at the top level (``randomnes``, ``optim_wraper``) is silently ignored.

The valid keys of a dict with a ``type`` are the parameters of its registered class's ``__init__``, followed
through ``**kwargs`` into the base classes when ``**kwargs`` only goes to ``super().__init__``; a class that uses
``**kwargs`` otherwise is not checked. Which registry a dict belongs to follows from where it sits (``model`` ->
models, ``pipeline`` -> transforms, ...). At the top level a config also holds its own helper variables
(``crop_size``, ``train_pipeline``), so an unknown top-level key is refused only when it is a near miss (at most
two edits) of a key that something reads.
"""
import ast
import difflib
import functools
import inspect
import textwrap

from .engine.speed import apply_speed_options
from .errors import UserError

# Top-level keys read by this project, besides the Runner's arguments.
DASEG_KEYS = (
    'speed',            # daseg.engine.speed
    'eval_targets',     # tools/test.py
    'eval_classes16',   # tools/test.py
    'load_from_part',   # daseg.weights.fit, set by run_experiments.py --load-part
    'debug_img_interval',  # daseg.engine.runner: DebugImageHook every N iterations (0: none)
    'stages',           # daseg.pipelines: a multi-stage method (run_experiments.py runs its stages)
)
# Read by mmengine outside the Runner's arguments, or by mmseg's tools.
MMENGINE_KEYS = ('custom_imports', 'runner_type', 'sync_bn', 'find_unused_parameters', 'compile', 'tta_model',
                 'tta_pipeline')
# Builders that consume the given keys before the class sees the rest.
_CONSUMED = {'PARAM_SCHEDULERS': {'convert_to_iter_based'}, 'HOOKS': {'priority'},
             'OPTIM_WRAPPERS': {'constructor', 'paramwise_cfg'}}
# Dicts built by helpers with their own rules (mmcv's layer builders pop extra keys, initialisers...).
_NOT_CHECKED = {'norm_cfg', 'act_cfg', 'conv_cfg', 'init_cfg', 'paramwise_cfg', 'env_cfg'}
# The registry of the dicts under a key, inherited by nested dicts.
_REGISTRY_OF = {
    'model': 'MODELS', 'data_preprocessor': 'MODELS', 'dataset': 'DATASETS', 'sampler': 'DATA_SAMPLERS',
    'batch_sampler': 'DATA_SAMPLERS', 'pipeline': 'TRANSFORMS', 'transforms': 'TRANSFORMS',
    'optimizer': 'OPTIMIZERS', 'vis_backends': 'VISBACKENDS',
}
# The same for top-level keys only: their names mean something else deeper down (``model.test_cfg`` is a plain
# dict, ``default_hooks.param_scheduler`` a hook).
_TOP_ONLY = {
    'train_cfg': 'LOOPS', 'val_cfg': 'LOOPS', 'test_cfg': 'LOOPS', 'tta_model': 'MODELS',
    'tta_pipeline': 'TRANSFORMS', 'eval_targets': 'DATASETS', 'optim_wrapper': 'OPTIM_WRAPPERS',
    'param_scheduler': 'PARAM_SCHEDULERS', 'default_hooks': 'HOOKS', 'custom_hooks': 'HOOKS',
    'val_evaluator': 'METRICS', 'test_evaluator': 'METRICS', 'visualizer': 'VISUALIZERS',
    'log_processor': 'LOG_PROCESSORS', 'model_wrapper_cfg': 'MODEL_WRAPPERS',
}




def _plain_dict_keys():
    """Top-level dicts without a ``type``: the keyword arguments of the function that reads them."""
    from mmengine.runner import Runner
    params = {'randomness': Runner.set_randomness, 'speed': apply_speed_options}
    return {key: set(list(inspect.signature(fn).parameters)[1:]) for key, fn in params.items()}


def _edits(a, b):
    """Edit distance with transpositions (optimal string alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _nearest(key, valid):
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if near:
        return f"the nearest valid name is '{near[0]}'"
    return 'valid names: ' + ', '.join(sorted(valid)[:12]) + (', ...' if len(valid) > 12 else '')


def top_level_keys():
    """Every top-level key something reads: the Runner's arguments and :data:`DASEG_KEYS`."""
    from mmengine.runner import Runner
    return {*inspect.signature(Runner.__init__).parameters, *MMENGINE_KEYS, *DASEG_KEYS} - {'self'}


def _forwards_only_to_super(init, name):
    """Whether the function's ``**name`` is used only as ``super().__init__(..., **name)``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return False
    forwarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == '__init__' \
                and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, 'id', None) == 'super':
            forwarded |= {id(kw.value) for kw in node.keywords if kw.arg is None}
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
    return bool(uses) and all(id(n) in forwarded for n in uses)


@functools.lru_cache(maxsize=None)
def valid_keys(cls):
    """The keyword arguments ``cls(...)`` accepts, or None when it accepts any (not checked)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return names
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        var_kw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        if var_kw is None:
            return names
        if not _forwards_only_to_super(init, var_kw):
            return None
    return names


def _check_typed(node, place, registry_name):
    import mmseg.registry as registries
    kind = node['type']
    cls = kind if isinstance(kind, type) else getattr(registries, registry_name).get(kind)
    if not isinstance(cls, type):
        return  # unknown or a function: the builder says so itself
    valid = valid_keys(cls)
    if valid is None:
        return
    valid = valid | _CONSUMED.get(registry_name, set()) | {'type', '_scope_'}
    for key in node:
        if key not in valid:
            raise UserError(f"unknown config key '{key}' in {place} ({cls.__name__}); "
                            f'{_nearest(key, sorted(valid - {"type", "_scope_"}))}')


def _walk(node, place, registry_name):
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _walk(item, f'{place}[{i}]', registry_name)
        return
    if not isinstance(node, dict):
        return
    if registry_name and isinstance(node.get('type'), (str, type)):
        _check_typed(node, place, registry_name)
    for key, value in node.items():
        if key in _NOT_CHECKED:
            continue
        _walk(value, f'{place}.{key}', _REGISTRY_OF.get(key, registry_name))


def check_config(cfg):
    """Refuse unknown keys in a loaded config (see the module docstring).

    Args:
        cfg (mmengine.Config | dict): the config, after ``--cfg-options``.

    Raises:
        UserError: ``unknown config key 'max_iter' in train_cfg (IterBasedTrainLoop); the nearest valid name
            is 'max_iters'``.
    """
    tree = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    known = top_level_keys()
    for key in tree:
        if key in known:
            continue
        close = min(known, key=lambda name: _edits(key, name))
        if _edits(key, close) <= (1 if len(key) <= 6 else 2):
            raise UserError(f"unknown top-level config key '{key}'; the nearest valid name is '{close}'")
    for key, valid in _plain_dict_keys().items():
        for name in tree.get(key) or {}:
            if name not in valid:
                raise UserError(f"unknown config key '{name}' in {key}; {_nearest(name, sorted(valid))}")
    for key, value in tree.items():
        if key in _NOT_CHECKED:
            continue
        _walk(value, key, _TOP_ONLY.get(key) or _REGISTRY_OF.get(key))
