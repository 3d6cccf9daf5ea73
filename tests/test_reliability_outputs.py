"""One writer per output, nothing partial left behind, output folders checked before the work: the atomic
no-replace write, the folder lock, and test.sh's --out / --show-dir."""
import errno
import importlib.util
import multiprocessing
import os
import signal
import socket

import pytest
import torch

from daseg.atomic import atomic_write
from daseg.errors import UserError
from daseg.evaluation import command
from daseg.locks import LOCK_NAME, folder_lock
from daseg.weights import load_checkpoint_file, save_checkpoint_atomic
from entry_points import ROOT

FORK = multiprocessing.get_context('fork')


def _race(path, value, barrier, results):
    """Write ``value`` to ``path``; both writers have their complete temporary file before either names it."""
    def write(f):
        torch.save({'state_dict': {'w': torch.full((4,), float(value))}}, f)
        barrier.wait(timeout=60)
    try:
        atomic_write(path, write)
        results.put((value, 'wrote'))
    except UserError as exc:
        results.put((value, str(exc)))


def test_two_writers_of_one_output_one_wins_one_refuses(tmp_path):
    path = str(tmp_path / 'merged.pth')
    barrier, results = FORK.Barrier(2), FORK.Queue()
    writers = [FORK.Process(target=_race, args=(path, value, barrier, results)) for value in (1, 2)]
    for p in writers:
        p.start()
    outcome = dict(results.get(timeout=120) for _ in writers)
    for p in writers:
        p.join(timeout=60)
    winner = [value for value, said in outcome.items() if said == 'wrote']
    assert len(winner) == 1, outcome
    loser = 3 - winner[0]
    assert outcome[loser] == f'refusing to overwrite {path}: another writer created it meanwhile'
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.full((4,), float(winner[0])))
    assert os.listdir(tmp_path) == ['merged.pth']  # no temporary file of the loser left
    # A later writer is refused before it writes anything.
    with pytest.raises(UserError, match=f'^refusing to overwrite {path}: choose another output path$'):
        save_checkpoint_atomic({'state_dict': {}}, path)


@pytest.mark.parametrize('overwrite', [False, True])
def test_disk_full_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, overwrite):
    path = tmp_path / 'out.pth'
    if overwrite:
        path.write_bytes(b'old')

    def full(f):
        f.write(b'x' * 1000)
        raise OSError(errno.ENOSPC, 'No space left on device')
    with pytest.raises(UserError) as exc:
        atomic_write(str(path), full, overwrite=overwrite)
    assert str(exc.value) == f'cannot write {path}: no space left on the device (the partial file was removed); ' \
                             'free some space and run again'
    assert os.listdir(tmp_path) == (['out.pth'] if overwrite else [])
    assert not overwrite or path.read_bytes() == b'old'


def _hold(folder, ready):
    with folder_lock(folder, 'training'):
        ready.set()
        signal.pause()


def test_folder_lock_names_its_holder_and_dies_with_it(tmp_path):
    folder = str(tmp_path / 'work')
    ready = FORK.Event()
    holder = FORK.Process(target=_hold, args=(folder, ready))
    holder.start()
    try:
        assert ready.wait(timeout=60)
        with pytest.raises(UserError, match=rf'^{folder} is in use by training \(pid {holder.pid} on '
                                            rf'{socket.gethostname()}, since .*\); wait for it to end or choose '
                                            'another folder'):
            with folder_lock(folder, 'training'):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    # The kernel released the lock with the killed process; its stale lock file does not block.
    assert os.listdir(folder) == [LOCK_NAME]
    with folder_lock(folder, 'training'):
        pass
    assert os.listdir(folder) == []


# ---------------------------------------------------------------------------------------------------------------
# test.sh: --out and --show-dir are claimed before the evaluation
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def tool(monkeypatch):
    spec = importlib.util.spec_from_file_location('test_tool', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def no_evaluation(*args, **kwargs):
        raise AssertionError('evaluated although an output folder is unusable')
    monkeypatch.setattr(command, 'evaluate_checkpoints', no_evaluation)
    return module


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {}}, path)
    return str(path)


def run_tool(tool, checkpoint, *options):
    tool.main([str(ROOT / 'configs/demo/gta_source_only.py'), checkpoint, '--device', 'cpu', *options])


def read_only(monkeypatch, folder):
    """Make ``folder`` and its subfolders read-only, also for root (who ignores the permission bits): creating
    anything in them fails as on a read-only mount. Returns the folders to make writable again."""
    folders = [folder, *(p for p in folder.rglob('*') if p.is_dir())]
    for path in folders:
        path.chmod(0o555)
    if os.geteuid() == 0:
        makedirs, os_open = os.makedirs, os.open

        def inside(path):
            return os.path.abspath(path).startswith(str(folder) + os.sep)

        def no_makedirs(path, *args, **kwargs):
            if inside(path) and not os.path.isdir(path):
                raise PermissionError(errno.EACCES, 'Permission denied', str(path))
            return makedirs(path, *args, **kwargs)

        def no_open(path, flags, *args, **kwargs):
            if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise PermissionError(errno.EACCES, 'Permission denied', str(path))
            return os_open(path, flags, *args, **kwargs)
        monkeypatch.setattr(os, 'makedirs', no_makedirs)
        monkeypatch.setattr(os, 'open', no_open)
    return folders


def test_out_naming_a_file_stops_before_the_evaluation(tool, checkpoint, tmp_path):
    (tmp_path / 'results').write_text('')
    with pytest.raises(UserError, match=f'^--out {tmp_path}/results is a file; expected a folder'):
        run_tool(tool, checkpoint, '--out', str(tmp_path / 'results'))


@pytest.mark.parametrize('option', ['--out', '--show-dir'])
def test_read_only_output_stops_before_the_evaluation(tool, checkpoint, tmp_path, monkeypatch, option):
    locked = tmp_path / 'locked'
    (locked / 'empty').mkdir(parents=True)
    folders = read_only(monkeypatch, locked)
    try:
        # A new folder that cannot be created ...
        with pytest.raises(UserError, match=f'^cannot create the folder {locked}/eval: Permission denied$'):
            run_tool(tool, checkpoint, option, str(locked / 'eval'))
        # ... and an existing empty one in which nothing can be written.
        with pytest.raises(UserError, match=f'^cannot write to the folder {locked}/empty: Permission denied$'):
            run_tool(tool, checkpoint, option, str(locked / 'empty'))
    finally:
        for path in folders:
            path.chmod(0o755)


def test_out_written_by_another_evaluation_stops_before_the_evaluation(tool, checkpoint, tmp_path):
    out = str(tmp_path / 'eval')
    with folder_lock(out, 'test.sh'):
        with pytest.raises(UserError, match=rf'^{out} is in use by test.sh \(pid {os.getpid()} on '):
            run_tool(tool, checkpoint, '--out', out)
