"""One writer per output folder: an exclusive lock on a file inside it, naming its holder; and output
folders claimed (new or empty, writable) before any work.

    with folder_lock('work_dirs/run', 'training'):
        ...   # a second process asking for the same folder stops with one line naming the holder

The lock is ``fcntl.flock`` on ``<folder>/.daseg.lock``: the kernel releases it when the holder exits, also on
SIGKILL, so a crashed run never blocks the next one. The file holds the holder's pid, host and purpose for the
message; it is removed when the lock is released.
"""
import contextlib
import json
import os
import os.path as osp
import socket
import time

from .errors import UserError

LOCK_NAME = '.daseg.lock'

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the outputs' no-replace creation still protects files
    fcntl = None

# Lock file descriptors this process holds. A forked child (data-loader or converter worker) closes its copies:
# otherwise it would keep the lock after its parent was killed.
_HELD = set()


def _close_inherited():
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_close_inherited)


def _holder(path):
    try:
        with open(path) as f:
            info = json.load(f)
        return f"{info['what']} (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return 'another process'


def _acquire(path, what):
    """Open and lock ``path``; returns the file descriptor. Retries when the holder removed the file between
    our open and our lock (we would hold a lock on a file nobody else sees)."""
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # umask applies, as for a plain open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f'{osp.dirname(path)} is in use by {_holder(path)}; wait for it to end or choose '
                            f'another folder (lock file {path})') from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            info = dict(what=what, pid=os.getpid(), host=socket.gethostname(),
                        since=time.strftime('%Y-%m-%d %H:%M:%S'))
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(info) + '\n').encode())
            return fd
        os.close(fd)
    raise UserError(f'cannot lock {path}: it keeps being replaced by another process')


@contextlib.contextmanager
def folder_lock(folder, what):
    """Hold the exclusive lock of ``folder`` (created when missing) while the block runs.

    Args:
        folder (str): the output folder.
        what (str): what holds it, for the message another writer gets, e.g. ``'training'``.

    Raises:
        UserError: another process holds the lock (names it), or the folder cannot be created.
    """
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise UserError(f'cannot create the folder {folder}: {exc.strerror or exc}') from None
    if fcntl is None:
        yield
        return
    path = osp.join(folder, LOCK_NAME)
    try:
        fd = _acquire(path, what)
    except OSError as exc:
        raise UserError(f'cannot write to the folder {folder}: {exc.strerror or exc}') from None
    _HELD.add(fd)
    try:
        yield
    finally:
        # Removed before the unlock: whoever opens the name afterwards finds a new file, see _acquire.
        with contextlib.suppress(OSError):
            os.remove(path)
        _HELD.discard(fd)
        os.close(fd)


@contextlib.contextmanager
def fresh_output_folder(path, option, what):
    """Claim an output folder before any work: it must be new or empty, writable, and is held locked (see
    :func:`folder_lock`) while the block runs; a folder this created is removed again when it stays empty.

    Args:
        path (str): the folder.
        option (str): the option that named it, for messages, e.g. ``'--out'``.
        what (str): what holds it, e.g. ``'test.sh'``.
    """
    if osp.exists(path) and not osp.isdir(path):
        raise UserError(f'{option} {path} is a file; expected a folder (new or empty)')
    created = not osp.exists(path)
    try:
        with folder_lock(path, what):
            if set(os.listdir(path)) - {LOCK_NAME}:
                raise UserError(f'{option} {path} already exists and is not an empty folder; choose another one')
            yield
    finally:
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(path)  # only succeeds when empty
