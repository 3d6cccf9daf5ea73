"""Checkpoint and weights files: the one place where they are read, and their atomic writing.

Every reader (test.sh, merge.py, ``load_from``, the runner, pretrained backbone weights) goes through
:func:`load_checkpoint_file`, which unpickles with ``weights_only=True``: a checkpoint never runs code.
"""
import contextlib
import functools
import glob
import os
import os.path as osp
import pickle
import re
import zipfile

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import UserError

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


_ITER_NAME = re.compile(r'iter_(\d+)\.pth')
# Files of interrupted writes: the runner's ``.iter_N.pth.part`` and atomic_write's temporaries.
_PARTIAL_PATTERN = '.*.part'


def is_complete_checkpoint(path):
    """Whether ``path`` is a whole checkpoint file: not empty and, for torch's zip format, with the zip's
    central directory at its end (a truncated write has none). Reads only the end of the file."""
    try:
        with open(path, 'rb') as f:
            magic = f.read(2)
        if not magic:
            return False
        return magic != b'PK' or zipfile.is_zipfile(path)
    except OSError:
        return False


def find_latest_checkpoint(work_dir):
    """The latest complete checkpoint a training run in ``work_dir`` wrote.

    The ``iter_N.pth`` with the highest N that is complete; when the work dir holds none, the file that
    mmengine's ``last_checkpoint`` names (as written, or by its name inside ``work_dir`` when the folder was
    moved). A kill between writing a checkpoint and ``last_checkpoint`` thus loses nothing, and a work dir
    without ``last_checkpoint`` resumes all the same.

    Args:
        work_dir (str): a training output folder.

    Returns:
        str: path of the checkpoint.

    Raises:
        UserError: no complete checkpoint (the line says what was found instead).
    """
    iters = {}
    for path in glob.glob(osp.join(glob.escape(work_dir), 'iter_*.pth')):
        match = _ITER_NAME.fullmatch(osp.basename(path))
        if match and is_complete_checkpoint(path):
            iters[int(match[1])] = path
    if iters:
        return iters[max(iters)]
    marker = osp.join(work_dir, 'last_checkpoint')
    recorded = ''
    if osp.isfile(marker):
        with open(marker) as f:
            recorded = f.read().strip()
        for candidate in (recorded, osp.join(work_dir, osp.basename(recorded))):
            if recorded and is_complete_checkpoint(candidate):
                return candidate
    if recorded:
        raise UserError(f'no complete checkpoint in {work_dir}: {marker} names {recorded}, which does not exist '
                        'or is incomplete, and there is no iter_*.pth')
    raise UserError(f'no checkpoint in {work_dir}: expected iter_*.pth or a last_checkpoint file')


def remove_partial_checkpoints(work_dir):
    """Delete what interrupted checkpoint writes left in ``work_dir`` (they only fill the disk).

    Only call this while holding the work dir (:func:`daseg.locks.folder_lock`): a running training's
    checkpoint in progress looks the same.

    Returns:
        list[str]: the removed files.
    """
    removed = []
    for path in sorted(glob.glob(osp.join(glob.escape(work_dir), _PARTIAL_PATTERN))):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            removed.append(path)
    return removed


def read_weights_file(path):
    """Read a pretrained weights file: a torch file (through :func:`load_checkpoint_file`) or, when the
    safetensors package is installed, a ``.safetensors`` file.

    Args:
        path (str | os.PathLike): a ``.pth`` / ``.bin`` / ``.safetensors`` file.

    Returns:
        dict: the loaded object.
    """
    path = os.fspath(path)
    if not path.endswith('.safetensors'):
        return load_checkpoint_file(path)
    if not osp.isfile(path):
        raise UserError(f'checkpoint not found: {path}')
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise UserError(f'{path}: reading .safetensors needs the safetensors package '
                        '(pip install safetensors), or use the pytorch_model.bin of the same model') from None
    return load_file(path, device='cpu')


def save_checkpoint_atomic(obj, path, overwrite=False, **kwargs):
    """``torch.save`` to a temporary file in the same folder, flushed, then renamed (see
    :func:`daseg.atomic.atomic_write`, which takes ``kwargs``).

    Args:
        obj (dict): the checkpoint, e.g. ``{'state_dict': ..., 'meta': ...}``.
        path (str): destination.
        overwrite (bool): replace an existing file; otherwise that is a UserError, also when another writer
            creates ``path`` meanwhile (one of two concurrent writers wins, the other gets that line).
    """
    atomic_write(path, lambda f: torch.save(obj, f), overwrite=overwrite, **kwargs)
