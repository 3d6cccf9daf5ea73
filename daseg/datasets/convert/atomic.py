"""The converters' atomic writes: a reader never sees a half-written label or statistics file."""
import json
import shutil

from ...atomic import atomic_write


def write_bytes_atomic(path, data):
    """Write bytes to `path` through a temporary file in the same folder and a rename."""
    atomic_write(path, lambda f: f.write(data), overwrite=True, sync=False)


def write_json_atomic(path, obj):
    """Write `obj` as indented JSON to `path` atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2) + '\n').encode('utf-8'))


def copy_file_atomic(src, dst):
    """Copy the file `src` to `dst` atomically."""
    def copy(f):
        with open(src, 'rb') as source:
            shutil.copyfileobj(source, f)
    atomic_write(dst, copy, overwrite=True, sync=False)
