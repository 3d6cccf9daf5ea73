"""Fitting a checkpoint's weights to a built model (``load_from`` and ``--resume``): strict unless asked.

A checkpoint that does not fit (another backbone, another number of classes, a UDA checkpoint into a plain
segmentor) is refused with one line naming the first key that differs and both shapes, instead of training from
scratch. Into a UDA wrapper (a model whose ``sub_models()`` lists its segmentors, see :mod:`.submodels`):

* the student (``model.*``, or DDB's ``stu_model.*``: either goes to the wrapper's student, whatever the attribute
  that holds it) must be present and fit; a plain segmentor checkpoint is the student (one log line:
  ``student and teacher initialised from ...``);
* every other sub-model the wrapper holds must fit when the checkpoint has it, and otherwise keeps its own
  initialisation (one log line says which and why);
* sub-models the wrapper does not hold (``imnet_model.*`` without feature distance, ``mic.*`` without MIC's own
  teacher) are dropped with one log line;
* keys of no sub-model (e.g. a training-only ``mrm.*`` module) must fit the model when it has them, else they
  are dropped with one log line.

Loading part of a model is explicit: ``part`` (key prefixes such as ``('backbone.',)``) loads only the keys
under them, which must fit, and the log says what was and was not loaded.
"""
from dataclasses import dataclass, field

from ..errors import UserError
from .keys import check_fits, listed
from .submodels import BY_ATTR, SUB_MODELS, canonical_key, canonical_state_dict, sub_model_of

# BatchNorm counters that checkpoints of older mmcv versions lack; the model's own value is kept.
_OPTIONAL = 'num_batches_tracked'
# What a sub-model keeps when the checkpoint has none of its weights.
_CKD_TEACHER = 'keeps the weights of its teacher checkpoint in the config (training refuses without one)'
_KEEPS = {'teacher': 'copied from the student at iteration 0', 'mic_teacher': 'copied from the student at '
          'iteration 0', 'imagenet': 'keeps its ImageNet weights', 'region_teacher': _CKD_TEACHER,
          'class_teacher': _CKD_TEACHER}
# The sub-models that start as copies of the student.
COPIED_FROM_STUDENT = frozenset(name for name, keeps in _KEEPS.items() if keeps.startswith('copied'))


@dataclass
class Fit:
    """What to load and what to say about it.

    Attributes:
        state_dict (dict[str, Tensor]): keys of the model; those it lacks keep their initialisation.
        notes (list[str]): log lines (kept, dropped and, with ``part``, what was loaded).
    """
    state_dict: dict
    notes: list = field(default_factory=list)


def _split(state_dict):
    """``{attr or first key component: {key: value}}``: the keys of each sub-model, and the other keys by
    their first component (e.g. ``'mrm'``)."""
    groups = {}
    for key, value in state_dict.items():
        sub = sub_model_of(key)
        groups.setdefault(sub.attr if sub else key.split('.', 1)[0], {})[key] = value
    return groups


def _group_counts(keys):
    """``'model.backbone.* (120), model.decode_head.* (14)'``: keys by sub-model and first module."""
    counts = {}
    for key in keys:
        sub = sub_model_of(key)
        head = sub.prefix if sub else ''
        name = head + key[len(head):].split('.', 1)[0]
        counts[name] = counts.get(name, 0) + 1
    return listed([f'{name}.* ({n})' for name, n in counts.items()], 4) or 'none'


def _check(own, state_dict, what):
    """Shapes of the common keys first (the most telling line for another architecture), then the key sets."""
    for key, value in state_dict.items():
        if key in own and value.shape != own[key].shape:
            raise UserError(f'{what}: {key} has shape {tuple(value.shape)} in the checkpoint, '
                            f'{tuple(own[key].shape)} in the model')
    check_fits(own, state_dict, what, optional_suffix=_OPTIONAL)


def _only(tensors, prefixes):
    return {k: v for k, v in tensors.items() if k.startswith(prefixes)}


def _part_note(own, state_dict, loaded, source, part):
    rest_own = [k for k in own if k not in loaded]
    rest_ckpt = [k for k in state_dict if k not in loaded]
    return (f'loaded part of {source}, {len(loaded)} tensors under {", ".join(part)}: '
            f'{_group_counts(loaded)}; not loaded, {len(rest_own)} model tensors keep their initialisation: '
            f'{_group_counts(rest_own)}; {len(rest_ckpt)} checkpoint tensors unused: {_group_counts(rest_ckpt)}')


def _fit_plain(own, state_dict, source, part):
    if any(sub_model_of(k) for k in state_dict):
        raise UserError(f'{source} is a UDA checkpoint (model.*, ema_model.*) and the model a plain segmentor; '
                        f'take its student first: python tools/convert_checkpoint.py {source} OUT.pth '
                        '--which student, then load_from OUT.pth')
    if not part:
        _check(own, state_dict, f'{source} does not fit the model')
        return Fit(state_dict)
    own_part, ckpt_part = _only(own, part), _only(state_dict, part)
    if not ckpt_part:
        raise UserError(f'{source} has no keys under {", ".join(part)} (load_from_part); its keys start with '
                        f'{_group_counts(state_dict)}')
    _check(own_part, ckpt_part, f'{source} does not fit the model under {", ".join(part)}')
    return Fit(ckpt_part, [_part_note(own, state_dict, ckpt_part, source, part)])


def _fit_uda(model, own, state_dict, source, part):
    # Compared under the table's own prefixes; returned under the model's (e.g. CKD's student at stu_model.*).
    model_key = {canonical_key(key): key for key in own}
    own = canonical_state_dict(own)
    notes = []
    student = SUB_MODELS[0]
    plain = not any(sub_model_of(k) for k in state_dict)
    if plain:  # a plain segmentor checkpoint: the student's weights
        state_dict = {student.prefix + k: v for k, v in state_dict.items()}
    held = {sub.attr: sub for sub, _ in model.sub_models()}
    ckpt, mine = _split(state_dict), _split(own)
    if student.attr not in ckpt:
        raise UserError(f'{source} has no student weights ({student.prefix}*); its keys start with '
                        f'{_group_counts(state_dict)}')
    out, kept, dropped = {}, [], []
    for attr, group in ckpt.items():
        sub = BY_ATTR.get(attr)
        if not sub and part:
            continue  # outside every sub-model: listed as unused by the note on the part
        if (sub and attr not in held) or (not sub and attr not in mine):
            dropped.append(f'{sub.name} ({sub.prefix}*)' if sub else f'{attr}.*')
            continue
        if part and sub:
            prefixes = tuple(sub.prefix + p for p in part)
            own_group, group = _only(mine.get(attr, {}), prefixes), _only(group, prefixes)
        else:
            own_group = mine[attr]
        where = f'the {sub.name} ({sub.prefix}*)' if sub else f'the model under {attr}.*'
        _check(own_group, group, f'{source} does not fit {where}')
        out.update(group)
    if not out:
        raise UserError(f'{source} has no student keys under {", ".join(part)} (load_from_part)')
    copies = []
    for attr in mine:
        if attr not in ckpt:
            sub = BY_ATTR.get(attr)
            if plain and not part and sub and sub.name in COPIED_FROM_STUDENT:
                copies.append(sub.name)
                continue
            kept.append(f'the {sub.name} ({sub.prefix}*) {_KEEPS.get(sub.name, "keeps its initialisation")}'
                        if sub else f'{attr}.* keeps its initialisation')
    if plain and not part:  # the usual start of a UDA run, from a source-only model: one line
        copied = f' (the {" and the ".join(copies)} copied from the student at iteration 0)' if copies else ''
        notes.append(f'{" and ".join(["student", *copies])} initialised from {source}{copied}'
                     + ''.join(f'; {k}' for k in kept))
    elif kept:
        notes.append(f'{source} has no weights for part of the model: ' + '; '.join(kept))
    if dropped:
        notes.append(f'{source}: dropped {", ".join(dropped)}, which the model does not hold')
    if part:
        notes.append(_part_note(own, state_dict, out, source, part))
    return Fit({model_key.get(k, k): v for k, v in out.items()}, notes)


def fit_checkpoint(model, state_dict, source, part=None):
    """Decide what of ``state_dict`` loads into ``model`` (see the module docstring).

    Args:
        model (torch.nn.Module): a segmentor, or a UDA wrapper (it has a callable ``sub_models()``).
        state_dict (dict[str, Tensor]): the checkpoint's weights under this project's key names.
        source (str): the checkpoint's name, for the messages.
        part (Sequence[str] | None): load only the keys under these prefixes of a segmentor (e.g.
            ``['backbone.']``; in a UDA wrapper, under each of its sub-models); None loads everything.

    Returns:
        Fit: the weights for ``model.load_state_dict(fit.state_dict, strict=False)`` and the log lines.

    Raises:
        UserError: the first key or shape that does not fit, or a missing student.
    """
    part = tuple(p if p.endswith('.') else p + '.' for p in part) if part else None
    state_dict = canonical_state_dict(state_dict)
    own = model.state_dict()
    if callable(getattr(model, 'sub_models', None)):
        return _fit_uda(model, own, state_dict, source, part)
    return _fit_plain(own, state_dict, source, part)
