"""What the command-line entry points share: finding and loading the config, ``--cfg-options``, error output.

    from daseg.cli import load_config, run_main

    def main(argv=None):
        cfg = load_config(args.config, args.cfg_options)
        ...

    if __name__ == '__main__':
        run_main(main)
"""
import copy
import glob
import os.path as osp
import sys

import torch

from .config_check import check_config
from .errors import UserError


def find_config(path_or_workdir):
    """Resolve a config file or a training work dir to the config file.

    Args:
        path_or_workdir (str): a config file, or a work dir holding exactly one ``*.py`` at its top level (the
            resolved config that mmengine's Runner dumps there).

    Returns:
        tuple[str, str | None]: the config path and the work dir (None when a file was given).
    """
    if osp.isdir(path_or_workdir):
        found = sorted(glob.glob(osp.join(glob.escape(path_or_workdir), '*.py')))
        if len(found) != 1:
            listed = ', '.join(osp.basename(p) for p in found) or 'none'
            raise UserError(f'work dir {path_or_workdir} must hold exactly one config (*.py) at its top level, '
                            f'found {len(found)}: {listed}')
        return found[0], path_or_workdir
    if not osp.isfile(path_or_workdir):
        raise UserError(f'config not found: {path_or_workdir}')
    return path_or_workdir, None


def _split_top_level(text):
    """``text`` split at the commas outside brackets and parentheses (a trailing comma ends the last item)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in '([{') - (char in ')]}')
        if depth < 0:
            break
        if char == ',' and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise UserError(f'unbalanced brackets in {text!r}')
    last = text[start:]
    return parts + [last] if last.strip() else parts


def parse_value(text):
    """One ``KEY=VALUE`` value: numbers, booleans, None and strings as mmengine's ``DictAction`` reads them, and
    ``[lists]``, ``(tuples)``, ``A,B`` (a list) and ``dict(key=value, ...)``, nested. DictAction has no dict and
    recurses without end on ``[dict(type=X, a=1)]``.

    Args:
        text (str): e.g. ``'[dict(type=LocalVisBackend), dict(type=TensorboardVisBackend)]'``.

    Returns:
        The parsed value.
    """
    from mmengine.config import DictAction
    text = text.strip().strip('\'"')
    if text.startswith('dict(') and text.endswith(')'):
        items = {}
        for item in _split_top_level(text[len('dict('):-1]):
            key, sep, value = item.partition('=')
            if not sep or not key.strip().isidentifier():
                raise UserError(f'bad item {item.strip()!r} in {text!r}: expected dict(key=value, ...)')
            items[key.strip()] = parse_value(value)
        return items
    if len(text) > 1 and text[0] + text[-1] in ('[]', '()'):
        values = [parse_value(item) for item in _split_top_level(text[1:-1])]
        return tuple(values) if text[0] == '(' else values
    items = _split_top_level(text)
    if len(items) > 1 or text.endswith(','):
        return [parse_value(item) for item in items]
    return DictAction._parse_int_float_bool(text)


def parse_cfg_options(items, option='--cfg-options'):
    """Parse ``KEY=VALUE`` strings (values as :func:`parse_value` reads them).

    Args:
        items (list[str] | None): e.g. ``['train_cfg.max_iters=1000', 'model.test_cfg.mode=slide']``.
        option (str): the option they came from, for the error message.

    Returns:
        dict: dotted key -> parsed value.
    """
    options = {}
    for item in items or []:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise UserError(f'bad {option} item {item!r}: expected KEY=VALUE')
        options[key] = parse_value(value)
    return options


def check_cfg_keys(cfg, options, hint='', allow_new=False):
    """Refuse dotted keys that do not exist in ``cfg``: a typo would otherwise add a new, unused entry.

    Args:
        cfg (mmengine.Config): the loaded config.
        options (dict): dotted key -> value; integer parts index lists, as in ``merge_from_dict``.
        hint (str): appended to the message, e.g. how to add a key on purpose.
        allow_new (bool): accept keys that are new below an existing dict (``--cfg-add``); a list index must
            still exist, and nothing can be added inside a number or a string.
    """
    tree = cfg.to_dict()
    for key, value in options.items():
        node, parts = tree, key.split('.')
        for i, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif allow_new and isinstance(node, dict):
                break  # new from here on
            elif allow_new:
                size = f' of {len(node)} items' if isinstance(node, (list, tuple)) else ''
                raise UserError(f"cannot add {key}: {'.'.join(parts[:i])} is a {type(node).__name__}{size}")
            else:
                raise UserError(f'unknown config key: {key}{hint}')
        else:
            # merge_from_dict merges a dict into the entry, which must then be one.
            if isinstance(value, dict) and not isinstance(node, dict):
                raise UserError(f'{key} is a {type(node).__name__}: a dict(...) value merges into a dict only')


def load_config(path_or_workdir, cfg_options=None, cfg_add=None):
    """Load a config file (or a work dir's dumped config) and apply ``--cfg-options`` and ``--cfg-add``.

    Args:
        path_or_workdir (str): see :func:`find_config`.
        cfg_options (list[str] | None): ``KEY=VALUE`` overrides; every key must exist in the config.
        cfg_add (list[str] | None): ``KEY=VALUE`` entries that may also be new (``--cfg-add``, for tools that
            offer it: then the unknown-key message of ``cfg_options`` points to it). The keys of typed dicts are
            still checked against their class (:mod:`daseg.config_check`).

    Raises:
        UserError: the config cannot be read, or holds a key that nothing reads (see :mod:`daseg.config_check`).

    Returns:
        mmengine.Config: the merged config.
    """
    from mmengine.config import Config
    config_path, _ = find_config(path_or_workdir)
    try:
        cfg = Config.fromfile(config_path)
    except (OSError, SyntaxError, NameError) as exc:
        message = ' '.join(str(exc).split())
        raise UserError(f'cannot load config {config_path}: {type(exc).__name__}: {message}') from None
    options = parse_cfg_options(cfg_options)
    check_cfg_keys(cfg, options, '' if cfg_add is None else ' (--cfg-add KEY=VALUE adds a new key)')
    additions = parse_cfg_options(cfg_add, '--cfg-add')
    check_cfg_keys(cfg, additions, allow_new=True)
    cfg.merge_from_dict({**options, **additions})
    check_config(cfg)
    return cfg


def user_message(exc):
    """The one-line message of a UserError, also when a DataLoader worker re-raised it.

    torch re-raises a worker's exception as the same type whose message is the worker's whole traceback;
    its last line is ``daseg.errors.UserError: <message>``.
    """
    text = str(exc).strip()
    if text.startswith('Caught UserError'):
        text = text.splitlines()[-1].split('UserError: ', 1)[-1]
    return ' '.join(text.split())


def run_main(fn):
    """Call ``fn()``; a user mistake ends the program with one ``error: ...`` line on stderr and exit code 2.

    Args:
        fn (callable): the entry point, taking no arguments.

    Returns:
        The result of ``fn()``.
    """
    # Freshly initialised or barely trained weights produce denormal floats, which make CPU arithmetic up to
    # 50 times slower (measured on the demo: 30 s instead of 0.6 s per UDA step); flushing them to zero
    # changes nothing measurable.
    torch.set_flush_denormal(True)
    try:
        return fn()
    except UserError as exc:
        print('error: ' + user_message(exc), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        sys.exit(130)


def segmentor_config(cfg):
    """The segmentor of a config: ``cfg.model``, or the ``model`` inside a UDA wrapper config (with the
    wrapper's data preprocessor); test mode ``whole`` unless the config sets one."""
    model_cfg = copy.deepcopy(cfg.model)
    if 'model' in model_cfg:
        wrapper, model_cfg = model_cfg, copy.deepcopy(model_cfg['model'])
        if 'data_preprocessor' not in model_cfg and 'data_preprocessor' in wrapper:
            model_cfg['data_preprocessor'] = copy.deepcopy(wrapper['data_preprocessor'])
    model_cfg.setdefault('test_cfg', dict(mode='whole'))
    return model_cfg
