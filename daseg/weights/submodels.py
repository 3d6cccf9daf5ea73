"""The sub-models of UDA checkpoints: one table of their names and prefixes, and splitting a checkpoint by it.

A UDA wrapper's state dict keeps each segmentor it holds under the attribute path that holds it, as the originals
do: ``model.`` (student), ``ema_model.`` (the EMA teacher), ``imnet_model.`` (the frozen ImageNet model of the
feature distance), ``mic.teacher.ema_model.`` (MIC's own EMA teacher), and DDB's cross-path distillation (CKD):
``stu_model.`` (its student), ``cu_model.`` / ``ca_model.`` (the frozen region-path and class-path teachers). The
wrappers declare which of these they hold (:meth:`daseg.models.uda.UDAWrapper.sub_models`); every reader of
checkpoint files (test.sh, merge.py, conversion, ``load_from``) uses this table. Keys under no declared prefix (e.g.
a training-only module) belong to no segmentor and are left out.

A sub-model may be saved under other attribute paths than its own (``aliases``): DDB's student is ``stu_model.*``.
Readers see it under its own path (:func:`canonical_key`), so the student of a CKD checkpoint is every reader's
``model``; a wrapper that holds it under an alias (``CKD``) maps the keys back when it loads them.
"""
from dataclasses import dataclass

import torch

from ..errors import UserError
from .io import load_checkpoint_file
from .keys import check_fits, strip_module_prefix
from .released import convert_legacy_keys


@dataclass(frozen=True)
class SubModel:
    """One segmentor inside a UDA wrapper.

    Attributes:
        name (str): what users call it (``--which``, ``--eval-model``).
        attr (str): attribute path on the wrapper; the checkpoint prefix is ``attr + '.'``.
        evaluable (bool): whether test.sh can evaluate it (``--eval-model``).
        aliases (tuple[str]): other attribute paths under which checkpoints hold the same sub-model.
    """

    name: str
    attr: str
    evaluable: bool = False
    aliases: tuple = ()

    @property
    def prefix(self) -> str:
        return self.attr + '.'

    @property
    def prefixes(self) -> tuple:
        """Its own prefix, then those of its aliases."""
        return (self.prefix,) + tuple(alias + '.' for alias in self.aliases)


SUB_MODELS = (
    SubModel('student', 'model', evaluable=True, aliases=('stu_model',)),
    SubModel('teacher', 'ema_model', evaluable=True),
    SubModel('imagenet', 'imnet_model'),
    SubModel('mic_teacher', 'mic.teacher.ema_model'),
    SubModel('region_teacher', 'cu_model', evaluable=True),
    SubModel('class_teacher', 'ca_model', evaluable=True),
)
BY_NAME = {sub.name: sub for sub in SUB_MODELS}
BY_ATTR = {sub.attr: sub for sub in SUB_MODELS}
EVALUABLE = tuple(sub.name for sub in SUB_MODELS if sub.evaluable)
# Every prefix of the table (aliases included) -> its sub-model; the longest first, so that a key goes to the
# innermost sub-model that holds it.
_PREFIXES = sorted(((p, sub) for sub in SUB_MODELS for p in sub.prefixes), key=lambda item: -len(item[0]))


def sub_model_of(key):
    """The sub-model whose prefix (own or alias) ``key`` starts with, or None."""
    return next((sub for prefix, sub in _PREFIXES if key.startswith(prefix)), None)


def canonical_key(key):
    """``key`` under its sub-model's own prefix (``stu_model.x`` -> ``model.x``); other keys unchanged."""
    for prefix, sub in _PREFIXES:
        if key.startswith(prefix):
            return sub.prefix + key[len(prefix):]
    return key


def canonical_state_dict(state_dict):
    """The state dict with every key under its sub-model's own prefix (:func:`canonical_key`).

    Raises:
        UserError: two keys that become one (e.g. a checkpoint holding its student as ``model.*`` and
            ``stu_model.*``).
    """
    out = {}
    for key, value in state_dict.items():
        name = canonical_key(key)
        if name in out:
            sub = sub_model_of(key)
            raise UserError(f'the checkpoint holds the {sub.name} twice, under '
                            f'{" and ".join(p + "*" for p in sub.prefixes)}; keep one of them')
        out[name] = value
    return out


def sub_models(ckpt):
    """Split a checkpoint into its segmentors, each under this project's key names.

    Args:
        ckpt (dict): a loaded checkpoint: ``{'state_dict': ..., ...}`` or a raw state dict.

    Returns:
        tuple[dict[str, dict[str, Tensor]], bool]: attribute path (``'model'``, ``'ema_model'``, ...; a sub-model
        saved under an alias comes under its own path: DDB's ``stu_model`` as ``'model'``) -> ``backbone.*``,
        ``decode_head.*``, ... weights, in the order of :data:`SUB_MODELS`; and whether the checkpoint is a UDA
        checkpoint (a plain segmentor comes back as ``{'model': ...}``).
    """
    state_dict = ckpt['state_dict'] if isinstance(ckpt.get('state_dict'), dict) else ckpt
    if not state_dict or not all(torch.is_tensor(v) for v in state_dict.values()):
        raise UserError(f'no state_dict of tensors; top-level keys: {", ".join(map(str, list(ckpt)[:8]))}')
    state_dict = canonical_state_dict(strip_module_prefix(state_dict))
    if not any(sub_model_of(k) for k in state_dict):
        return {'model': convert_legacy_keys(state_dict)}, False
    groups = {}
    for sub in SUB_MODELS:
        group = {k[len(sub.prefix):]: v for k, v in state_dict.items() if k.startswith(sub.prefix)}
        if group:
            groups[sub.attr] = convert_legacy_keys(group)
    return groups, True


def segmentor_state_dict(ckpt, which='student'):
    """The weights of one segmentor inside a checkpoint.

    Args:
        ckpt (dict): a loaded checkpoint: ``{'state_dict': ..., ...}`` or a raw state dict.
        which (str): one of :data:`EVALUABLE` (``'student'``, ``'teacher'``, DDB's ``'region_teacher'`` and
            ``'class_teacher'``); a plain segmentor checkpoint only has a student.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``decode_head.*``, ... keys, ready for ``load_state_dict``.
    """
    if which not in EVALUABLE:
        raise UserError(f"which must be one of {', '.join(EVALUABLE)}, got {which!r}")
    groups, is_uda = sub_models(ckpt)
    if not is_uda and which != 'student':
        raise UserError(f'the checkpoint holds a plain segmentor, it has no {which} (only UDA checkpoints do)')
    sub = BY_NAME[which]
    if sub.attr not in groups:
        raise UserError(f'the UDA checkpoint has no {which} weights ({" or ".join(p + "*" for p in sub.prefixes)})')
    return groups[sub.attr]


def load_segmentor_weights(model, path, which='student'):
    """Load a checkpoint's segmentor weights into ``model``, strictly.

    Args:
        model (torch.nn.Module): the built segmentor.
        path (str): checkpoint file.
        which (str): one of :data:`EVALUABLE`, see :func:`segmentor_state_dict`.

    Returns:
        dict: the checkpoint's ``meta`` (empty when it has none).

    Raises:
        UserError: the file cannot be read or its keys/shapes do not fit the model (another architecture).
    """
    ckpt = load_checkpoint_file(path)
    try:
        state_dict = segmentor_state_dict(ckpt, which)
    except UserError as exc:
        raise UserError(f'{path}: {exc}') from None
    check_fits(model.state_dict(), state_dict, f'{path} does not fit the model (another architecture?)')
    model.load_state_dict(state_dict, strict=True)
    meta = ckpt.get('meta')
    return meta if isinstance(meta, dict) else {}
