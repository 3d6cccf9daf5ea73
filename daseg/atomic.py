"""Atomic file writes: a reader sees either the old file or the complete new one, never a partial write."""
import os
import os.path as osp
import tempfile

from .errors import UserError


def atomic_write(path, write, overwrite=False, sync=True):
    """Write a file through a temporary file in the same folder, then rename it into place.

    Args:
        path (str): destination file; its folder must exist.
        write (callable): ``write(f)`` writes the content to the binary file object ``f``.
        overwrite (bool): replace an existing ``path``; otherwise an existing file is a UserError.
        sync (bool): flush to disk before the rename (results, checkpoints); converters writing thousands of
            label files skip it, a re-run rewrites them.
    """
    if osp.exists(path) and not overwrite:
        raise UserError(f'refusing to overwrite {path}: choose another output path')
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise UserError(f'output folder does not exist: {folder}')
    # Same folder as the destination so that os.replace is a rename on one file system.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text, overwrite=False):
    """Write UTF-8 text atomically; see :func:`atomic_write`."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')), overwrite=overwrite)
