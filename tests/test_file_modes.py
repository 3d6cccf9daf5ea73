"""Every output written through daseg.atomic gets the mode a plain open() gives a new file, 0o666 less the
umask in force at the time of the write (not mkstemp's 0o600, not the umask at import time)."""
import errno
import json
import os
import stat

import numpy as np
import pytest
import torch

from daseg.atomic import atomic_write, atomic_write_text
from daseg.datasets.convert.atomic import copy_file_atomic, write_bytes_atomic, write_json_atomic
from daseg.datasets.convert.class_stats import class_stats_entry, write_class_stats
from daseg.locks import LOCK_NAME, folder_lock
from daseg.weights import save_checkpoint_atomic

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='POSIX file modes')


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _plain_open_mode(folder):
    """The mode open(..., 'wb') gives a new file here: the independent reference."""
    path = os.path.join(folder, 'plain')
    with open(path, 'wb'):
        pass
    mode = _mode(path)
    os.remove(path)
    return mode


def _write_stats(folder):
    write_class_stats(str(folder), [class_stats_entry('a.png', np.zeros((2, 2), np.uint8))])
    return folder / 'sample_class_stats.json'


def _copy(folder):
    (folder / 'src.bin').write_bytes(b'x')
    os.chmod(folder / 'src.bin', 0o600)  # the copy's mode must not come from its source
    copy_file_atomic(str(folder / 'src.bin'), str(folder / 'out'))
    return folder / 'out'


# Each writer writes one file under the folder and returns its path.
WRITERS = {
    'atomic_write (no replace)': lambda d: atomic_write(str(d / 'out'), lambda f: f.write(b'x')) or d / 'out',
    'atomic_write (overwrite)': lambda d: atomic_write(str(d / 'out'), lambda f: f.write(b'x'),
                                                       overwrite=True) or d / 'out',
    'atomic_write_text (results)': lambda d: atomic_write_text(str(d / 'out.json'), '{}') or d / 'out.json',
    'save_checkpoint_atomic (merged checkpoints)': lambda d: save_checkpoint_atomic(
        {'state_dict': {'w': torch.zeros(1)}}, str(d / 'm.pth')) or d / 'm.pth',
    'write_bytes_atomic (converted labels)': lambda d: write_bytes_atomic(str(d / 'l.png'), b'x') or d / 'l.png',
    'write_json_atomic': lambda d: write_json_atomic(str(d / 'o.json'), [1]) or d / 'o.json',
    'copy_file_atomic (converted images)': _copy,
    'write_class_stats (rare-class statistics)': _write_stats,
}


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=lambda m: f'umask{m:03o}')
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize('writer', list(WRITERS))
def test_atomic_writers_give_the_mode_of_a_plain_open(tmp_path, umask, writer):
    assert _plain_open_mode(tmp_path) == 0o666 & ~umask
    path = WRITERS[writer](tmp_path)
    assert _mode(path) == 0o666 & ~umask
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.part')]  # no temporary left behind


def test_replacing_a_file_gives_the_mode_of_a_new_one(tmp_path, umask):
    path = tmp_path / 'out'
    path.write_bytes(b'old')
    os.chmod(path, 0o600)
    atomic_write_text(str(path), 'new', overwrite=True)
    assert path.read_text() == 'new' and _mode(path) == 0o666 & ~umask


def test_no_replace_without_hard_links(tmp_path, umask, monkeypatch):
    """The fallback for file systems without hard links (reserve the name, then rename) keeps the mode."""
    def no_link(src, dst):
        raise OSError(errno.EPERM, 'Operation not permitted')
    monkeypatch.setattr(os, 'link', no_link)
    atomic_write_text(str(tmp_path / 'out.json'), json.dumps({'a': 1}))
    assert json.loads((tmp_path / 'out.json').read_text()) == {'a': 1}
    assert _mode(tmp_path / 'out.json') == 0o666 & ~umask


def test_lock_file_mode(tmp_path, umask):
    with folder_lock(str(tmp_path), 'a test'):
        assert _mode(tmp_path / LOCK_NAME) == 0o666 & ~umask


def test_umask_is_left_as_it_was(tmp_path, umask):
    atomic_write_text(str(tmp_path / 'out'), 'x')
    assert os.umask(umask) == umask
