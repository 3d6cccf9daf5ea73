"""Atomic file writes: a reader never sees a half-written label or statistics file, even after a crash."""
import contextlib
import json
import os
import os.path as osp
import shutil


def _replace_via_temp(path, write):
    # The temporary file sits in the target's folder so that os.replace is a same-filesystem rename; its
    # '.tmp' ending keeps it out of every dataset listing while it exists.
    folder, name = osp.split(path)
    tmp = osp.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_bytes_atomic(path, data):
    """Write bytes to `path` through a temporary file in the same folder and a rename."""
    def write(tmp):
        with open(tmp, 'wb') as f:
            f.write(data)
    _replace_via_temp(path, write)


def write_json_atomic(path, obj):
    """Write `obj` as indented JSON to `path` atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2) + '\n').encode('utf-8'))


def copy_file_atomic(src, dst):
    """Copy the file `src` to `dst` atomically."""
    _replace_via_temp(dst, lambda tmp: shutil.copyfile(src, tmp))
