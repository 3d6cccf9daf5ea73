"""Checkpoint files: the one place where they are read, and their atomic writing.

Every reader (test.sh, merge.py, ``load_from``, the runner) goes through :func:`load_checkpoint_file`, which
unpickles with ``weights_only=True``: a checkpoint never runs code.
"""
import contextlib
import functools
import glob
import os.path as osp
import pickle
import re

import numpy as np
import torch

from .atomic import atomic_write
from .errors import UserError

# UDA-wrapper state dicts (DAFormer/HRDA/MIC and ours) keep each sub-model under its attribute name.
WRAPPER_PREFIXES = {'student': 'model.', 'teacher': 'ema_model.'}
_ALL_WRAPPER_PREFIXES = ('model.', 'ema_model.', 'imnet_model.')
# mmengine pickles these HistoryBuffer methods as ``getattr(HistoryBuffer, name)``.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'mean', 'current')


def _history_buffer_getattr(obj, name):
    """Stand-in for ``getattr`` in the unpickler: only resolves mmengine's HistoryBuffer statistics methods."""
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


@functools.lru_cache(maxsize=1)
def _safe_globals():
    """Data-only types that mmengine training checkpoints contain besides tensors (log history, numpy values).

    Unpickling them builds data and calls no code; ``getattr`` is replaced by a version that resolves nothing
    but HistoryBuffer's statistics methods.
    """
    from mmengine.logging import HistoryBuffer
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    allowed = [HistoryBuffer, np.ndarray, np.dtype, (_history_buffer_getattr, 'builtins.getattr')]
    allowed += list({type(np.dtype(code)) for code in np.typecodes['All'] if code != 'O'})
    # numpy 1.x writes numpy.core, numpy 2.x numpy._core.
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed += [(multiarray._reconstruct, f'{module}._reconstruct'), (multiarray.scalar, f'{module}.scalar')]
    return allowed


def _allowlist():
    """Context that allows :func:`_safe_globals` in ``torch.load``.

    torch < 2.6 cannot substitute a global by name; there only checkpoints of tensors and plain Python data load.
    """
    major, minor = (int(part) for part in torch.__version__.split('.')[:2])
    if (major, minor) < (2, 6):
        return contextlib.nullcontext()
    return torch.serialization.safe_globals(_safe_globals())


def _load_failure(exc):
    """Read torch's multi-line unpickling error: (does the file need code to load?, the line that says why)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if re.search(r'GLOBAL|not allowed|call reduce', line):
            return True, re.split(r'\. Please use|\. Check', line)[0]
    boilerplate = ('Weights only load failed', 'Please file', 'Check the documentation', '(1)', '(2)')
    reasons = [line for line in lines if not line.startswith(boilerplate)]
    return False, (reasons or [type(exc).__name__])[0]


def load_checkpoint_file(path, map_location='cpu', mmap=False):
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path (str): a ``.pth`` file.
        map_location (str | torch.device | callable): where tensors go, as for ``torch.load``.
        mmap (bool): map the file instead of reading it (zip-format files, torch >= 1.6): tensors are read when
            used, so an optimizer state that is never touched costs no memory. Older files are read whole.

    Returns:
        dict: the checkpoint object.

    Raises:
        UserError: missing file, a file that is no torch checkpoint, one that needs code to load, or one that
            does not hold a dict.
    """
    if not osp.exists(path):
        raise UserError(f'checkpoint not found: {path}')
    if not osp.isfile(path):
        raise UserError(f'checkpoint is not a file: {path}')
    try:
        with _allowlist():
            try:
                ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
            except RuntimeError as exc:
                if not (mmap and 'mmap' in str(exc)):
                    raise
                ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001  (every unpickling failure means "not a loadable checkpoint")
        needs_code, reason = _load_failure(exc)
        if needs_code:
            raise UserError(f'{path} cannot be loaded as weights only, it would need code to load ({reason})') \
                from None
        raise UserError(f'{path} is not a PyTorch checkpoint ({reason})') from None
    if not isinstance(ckpt, dict):
        raise UserError(f'{path} holds a {type(ckpt).__name__}, expected a dict of weights')
    return ckpt


def find_latest_checkpoint(work_dir):
    """The checkpoint a training run in ``work_dir`` wrote last.

    Uses the path in mmengine's ``last_checkpoint`` file (as written, or by its name inside ``work_dir`` when the
    folder was moved), else the ``iter_N.pth`` with the highest N.

    Args:
        work_dir (str): a training output folder.

    Returns:
        str: path of the checkpoint.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            recorded = f.read().strip()
        for candidate in (recorded, osp.join(work_dir, osp.basename(recorded))):
            if recorded and osp.isfile(candidate):
                return candidate
        raise UserError(f'{marker} names {recorded or "nothing"}, which does not exist')
    iters = {}
    for path in glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth')):
        match = re.fullmatch(r'iter_(\d+)\.pth', osp.basename(path))
        if match:
            iters[int(match[1])] = path
    if not iters:
        raise UserError(f'no checkpoint in {work_dir}: expected a last_checkpoint file or iter_*.pth')
    return iters[max(iters)]


def convert_legacy_keys(state_dict):
    """Convert a state dict from released mmseg-0.x key names (DAFormer/HRDA/MIC) to this project's.

    Works on one segmentor's keys (``backbone.*``, ``decode_head.*``) and on a whole UDA wrapper's (``model.*``,
    ``ema_model.*``, ``imnet_model.*``, as ``load_from`` sees them): every MiT backbone in the original SegFormer
    layout (``backbone.patch_embed1.proj.weight``, ...) is converted to mmseg's layout and MIC's separate teacher
    (``mic.*``) is dropped; other keys keep their names. See :mod:`daseg.legacy_keys`.

    Args:
        state_dict (dict[str, Tensor]): a segmentor's or a UDA wrapper's weights.

    Returns:
        dict[str, Tensor]: the weights under the key names of this project's modules.
    """
    from .legacy_keys import convert_released_state_dict
    return convert_released_state_dict(state_dict).state_dict


def sub_models(ckpt):
    """Split a checkpoint into its segmentors, each under this project's key names.

    Args:
        ckpt (dict): a loaded checkpoint: ``{'state_dict': ..., ...}`` or a raw state dict.

    Returns:
        tuple[dict[str, dict[str, Tensor]], bool]: attribute name (``'model'``, ``'ema_model'``,
        ``'imnet_model'``) -> ``backbone.*``, ``decode_head.*``, ... weights; and whether the checkpoint is a UDA
        checkpoint (a plain segmentor comes back as ``{'model': ...}``). Keys of other sub-models (e.g. MIC's
        ``mic.*`` copy of the teacher) are left out.
    """
    state_dict = ckpt['state_dict'] if isinstance(ckpt.get('state_dict'), dict) else ckpt
    if not state_dict or not all(torch.is_tensor(v) for v in state_dict.values()):
        raise UserError(f'no state_dict of tensors; top-level keys: {", ".join(map(str, list(ckpt)[:8]))}')
    # DataParallel / DistributedDataParallel wrap every key in ``module.``.
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    if not any(k.startswith(_ALL_WRAPPER_PREFIXES) for k in state_dict):
        return {'model': convert_legacy_keys(state_dict)}, False
    groups = {}
    for prefix in _ALL_WRAPPER_PREFIXES:
        group = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if group:
            groups[prefix[:-1]] = convert_legacy_keys(group)
    return groups, True


def segmentor_state_dict(ckpt, which='student'):
    """The weights of one segmentor inside a checkpoint.

    Args:
        ckpt (dict): a loaded checkpoint: ``{'state_dict': ..., ...}`` or a raw state dict.
        which (str): ``'student'`` (``model.*``) or ``'teacher'`` (``ema_model.*``) of a UDA checkpoint; a plain
            segmentor checkpoint only has a student.

    Returns:
        dict[str, Tensor]: ``backbone.*``, ``decode_head.*``, ... keys, ready for ``load_state_dict``.
    """
    if which not in WRAPPER_PREFIXES:
        raise UserError(f"which must be one of {', '.join(WRAPPER_PREFIXES)}, got {which!r}")
    groups, is_uda = sub_models(ckpt)
    if not is_uda and which != 'student':
        raise UserError(f'the checkpoint holds a plain segmentor, it has no {which} (only UDA checkpoints do)')
    prefix = WRAPPER_PREFIXES[which]
    if prefix[:-1] not in groups:
        raise UserError(f'the UDA checkpoint has no {which} weights ({prefix}*)')
    return groups[prefix[:-1]]


def _first(keys, n=3):
    return ', '.join(keys[:n]) + (', ...' if len(keys) > n else '')


def check_fits(own, state_dict, what, optional_suffix=None):
    """Refuse weights whose keys or shapes differ from a model's.

    Args:
        own (dict[str, Tensor]): the model's state dict.
        state_dict (dict[str, Tensor]): the weights to load.
        what (str): start of the message, e.g. ``'a.pth does not fit the model'``.
        optional_suffix (str | None): model keys ending with it may be absent (e.g. ``'num_batches_tracked'``).

    Raises:
        UserError: ``<what>: N missing keys (...), M unexpected keys (...)`` or ``<what>: <key> has shape ...``.
    """
    missing = [k for k in own if k not in state_dict and not (optional_suffix and k.endswith(optional_suffix))]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise UserError(f'{what}: {len(missing)} missing keys ({_first(missing) or "none"}), '
                        f'{len(unexpected)} unexpected keys ({_first(unexpected) or "none"})')
    for key, value in state_dict.items():
        if value.shape != own[key].shape:
            raise UserError(f'{what}: {key} has shape {tuple(value.shape)} in the checkpoint, '
                            f'{tuple(own[key].shape)} in the model')


def load_segmentor_weights(model, path, which='student'):
    """Load a checkpoint's segmentor weights into ``model``, strictly.

    Args:
        model (torch.nn.Module): the built segmentor.
        path (str): checkpoint file.
        which (str): ``'student'`` or ``'teacher'``, see :func:`segmentor_state_dict`.

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


def save_checkpoint_atomic(obj, path, overwrite=False):
    """``torch.save`` to a temporary file in the same folder, then rename.

    Args:
        obj (dict): the checkpoint, e.g. ``{'state_dict': ..., 'meta': ...}``.
        path (str): destination.
        overwrite (bool): replace an existing file; otherwise that is a UserError.
    """
    atomic_write(path, lambda f: torch.save(obj, f), overwrite=overwrite)
