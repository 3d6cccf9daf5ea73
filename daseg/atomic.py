"""Atomic file writes: a reader sees either the old file or the complete new one, never a partial write; a
failed write (disk full, kill) leaves no partial file under the final name, and without ``overwrite`` two
writers of one path cannot both succeed."""
import errno
import os
import os.path as osp
import secrets

from .errors import UserError

# Errors of a full disk or an exhausted quota: said as such, the partial file is removed.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# Flags of the temporary file: new (never someone else's file), binary on Windows, not inherited by children.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0) | getattr(os, 'O_CLOEXEC', 0)


def write_error(path, exc):
    """The UserError for an OSError while writing ``path``: one line naming the file and the cause."""
    if exc.errno in _NO_SPACE:
        return UserError(f'cannot write {path}: no space left on the device (the partial file was removed); '
                         'free some space and run again')
    # Name the other file involved (e.g. the source of a copy), not our own temporary beside ``path``.
    other = exc.filename and osp.dirname(osp.abspath(str(exc.filename))) != osp.dirname(osp.abspath(path))
    where = f' ({exc.filename})' if other else ''
    return UserError(f'cannot write {path}: {exc.strerror or exc}{where}')


def fsync_folder(folder):
    """Make a rename inside ``folder`` durable (a crash right after it keeps the new name)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # folders cannot be opened on some platforms; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(path):
    """Create a new temporary file beside ``path``; returns (file descriptor, its path).

    Created with mode 0o666 like a plain ``open()``, so the kernel applies the umask (or the folder's default
    ACL) at creation, as it would to ``open(path, 'wb')``: mkstemp's 0o600 would hide outputs from colleagues,
    and reading the umask to chmod afterwards is either process-global (``os.umask`` sets it to read it, racing
    other threads' file creations) or Linux-only (/proc), and overrides a default ACL.
    """
    folder, name = osp.split(osp.abspath(path))
    for _ in range(100):
        tmp = osp.join(folder, f'.{name}.{secrets.token_hex(4)}.part')
        try:
            return os.open(tmp, _CREATE, 0o666), tmp
        except FileExistsError:
            continue  # another writer's temporary of the same name; 32 random bits make this rare
    raise FileExistsError(errno.EEXIST, 'no free temporary name', folder)


def _link_no_replace(tmp, path):
    """Give the complete file ``tmp`` the name ``path`` unless that name exists, atomically."""
    try:
        os.link(tmp, path)  # fails with FileExistsError when another writer got there first
        return
    except FileExistsError:
        raise UserError(f'refusing to overwrite {path}: another writer created it meanwhile') from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
    # A file system without hard links: reserving the name with O_EXCL is still exclusive; the rename that
    # follows replaces the empty reservation.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        raise UserError(f'refusing to overwrite {path}: another writer created it meanwhile') from None
    os.replace(tmp, path)


def atomic_write(path, write, overwrite=False, sync=True):
    """Write a file through a temporary file in the same folder, then give it its name.

    Args:
        path (str): destination file; its folder must exist.
        write (callable): ``write(f)`` writes the content to the binary file object ``f``.
        overwrite (bool): replace an existing ``path``; otherwise an existing file is a UserError, also when
            another writer creates it while this one writes (the name is taken with a no-replace link).
        sync (bool): flush to disk before the rename (results, checkpoints); converters writing thousands of
            label files skip it, a re-run rewrites them.

    Raises:
        UserError: ``path`` exists (without ``overwrite``), its folder is missing, or the write failed (disk
            full, no permission); no temporary file is left behind.
    """
    if not overwrite and osp.lexists(path):
        raise UserError(f'refusing to overwrite {path}: choose another output path')
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise UserError(f'output folder does not exist: {folder}')
    try:
        # Same folder as the destination so that the rename stays on one file system.
        fd, tmp = _create_temporary(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_no_replace(tmp, path)
        if sync:
            fsync_folder(folder)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text, overwrite=False, sync=True):
    """Write UTF-8 text atomically; see :func:`atomic_write`."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')), overwrite=overwrite, sync=sync)
