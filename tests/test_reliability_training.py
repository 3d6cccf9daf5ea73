"""Training runs lose nothing and never start wrongly: a SIGKILL during a checkpoint write, a full disk, a
missing ``last_checkpoint``, a second training in the same work dir, a ``load_from`` that does not fit."""
import errno
import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from mmengine.fileio.backends.local_backend import LocalBackend

from daseg.errors import UserError
from daseg.weights import load_checkpoint_file
from entry_points import ROOT, run_experiments
from tiny_demo import tiny_demo

RUNS = itertools.count()
CONFIG = str(ROOT / 'configs/demo/gta_source_only.py')  # max_keep_ckpts=1, as every demo config
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.decode_head.channels=16',
        'model.decode_head.decoder_params.embed_dims=16', 'default_hooks.checkpoint.interval=1']

# Config text unformatted (mmengine's yapf layout of it costs 0.2 to 0.5 s a checkpoint); the log checks read
# other lines.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')

# The child: a real training whose write of iter_2.pth stops halfway, says so and waits to be killed.
SLOW_WRITER = textwrap.dedent('''
    import runpy, sys, time
    from mmengine.fileio.backends.local_backend import LocalBackend
    put, signal_file = LocalBackend.put, sys.argv[1]
    def slow_put(self, obj, filepath):
        if 'iter_2' in str(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            open(signal_file, 'w').close()
            time.sleep(300)
        return put(self, obj, filepath)
    LocalBackend.put = slow_put
    sys.argv = ['run_experiments.py'] + sys.argv[2:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    """Demo GTA data and a work dir ``work_dirs/base`` trained for one iteration (``iter_1.pth``)."""
    base = tmp_path_factory.mktemp('reliability_train')
    tiny_demo(base / 'data/demo', ('gta',), convert=('gta',))
    os.symlink(ROOT / 'run_experiments.py', base / 'run_experiments.py')
    with pytest.MonkeyPatch.context() as monkeypatch:
        train(base, monkeypatch, 'work_dirs/base', 1)
    return base


def args(work_dir, iters, *extra):
    # A name of its own per run: mmengine keeps one logger per experiment name (config name + the second it
    # started), so a second run of the config within the same second would log into the first run's file.
    return ['--config', CONFIG, '--work-dir', work_dir, '--cfg-add', f'experiment_name=run{next(RUNS)}',
            '--cfg-options', f'train_cfg.max_iters={iters}', *FAST, *extra]


def train(demo_dir, monkeypatch, work_dir, iters, *extra):
    monkeypatch.chdir(demo_dir)
    run_experiments.main(args(work_dir, iters, *extra))
    return demo_dir / work_dir


def copy_of_base(demo_dir, name):
    shutil.copytree(demo_dir / 'work_dirs/base', demo_dir / 'work_dirs' / name)
    return demo_dir / 'work_dirs' / name


def test_sigkill_during_checkpoint_write_then_resume(demo_dir, monkeypatch, capsys):
    work = demo_dir / 'work_dirs/killed'
    writing = demo_dir / 'writing'
    log = demo_dir / 'killed.log'
    with open(log, 'w') as output:  # a file: a full pipe would block the child
        child = subprocess.Popen([sys.executable, '-c', SLOW_WRITER, str(writing), *args(str(work), 2)],
                                 cwd=demo_dir, stdout=output, stderr=subprocess.STDOUT,
                                 env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        deadline = time.time() + 240
        while not writing.exists():
            assert child.poll() is None, log.read_text()[-2000:]
            assert time.time() < deadline, 'the child never reached its checkpoint write'
            time.sleep(0.2)
        assert (work / '.iter_2.pth.part').exists()
        # The old checkpoint is still there while the new one is written (mmengine deletes it first).
        assert load_checkpoint_file(str(work / 'iter_1.pth'))['meta']['iter'] == 1
        # A second training in the same work dir stops, naming the one that holds it.
        with pytest.raises(UserError, match=rf'work_dirs/killed is in use by training \(pid {child.pid} on '):
            train(demo_dir, monkeypatch, 'work_dirs/killed', 2, '--resume')
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    capsys.readouterr()
    out = train(demo_dir, monkeypatch, 'work_dirs/killed', 2, '--resume')
    printed = capsys.readouterr().out
    assert 'removed 1 partial file(s) of an interrupted save: .iter_2.pth.part' in printed
    assert 'resuming from work_dirs/killed/iter_1.pth' in printed
    assert load_checkpoint_file(str(out / 'iter_2.pth'))['meta']['iter'] == 2
    assert not list(out.glob('.*.part')) and not (out / 'iter_1.pth').exists()


def test_disk_full_leaves_no_partial_file(demo_dir, monkeypatch):
    out = copy_of_base(demo_dir, 'full')
    before = (out / 'iter_1.pth').read_bytes()

    def full_disk(self, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:100])
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(LocalBackend, 'put', full_disk)
    with pytest.raises(UserError) as exc:
        train(demo_dir, monkeypatch, 'work_dirs/full', 2, '--resume')
    assert str(exc.value) == f'cannot write {out}/iter_2.pth: no space left on the device (the partial file was ' \
                             'removed); free some space and run again'
    assert not list(out.glob('.*.part')) and not (out / 'iter_2.pth').exists()
    assert (out / 'iter_1.pth').read_bytes() == before
    assert (out / 'last_checkpoint').read_text().endswith('iter_1.pth')


def test_resume_without_last_checkpoint(demo_dir, monkeypatch, capsys):
    out = copy_of_base(demo_dir, 'nomarker')
    (out / 'last_checkpoint').unlink()
    capsys.readouterr()
    train(demo_dir, monkeypatch, 'work_dirs/nomarker', 2, '--resume')
    assert 'resuming from work_dirs/nomarker/iter_1.pth' in capsys.readouterr().out
    assert load_checkpoint_file(str(out / 'iter_2.pth'))['param_schedulers'][0]['last_step'] == 2


def test_nothing_to_resume(demo_dir, monkeypatch, capsys):
    monkeypatch.chdir(demo_dir)
    # An empty last_checkpoint and nothing else: one line, not a start from scratch.
    (demo_dir / 'work_dirs/marker_only').mkdir()
    (demo_dir / 'work_dirs/marker_only/last_checkpoint').write_text('')
    resume = run_experiments.parse_args(args('work_dirs/marker_only', 1, '--resume'))
    with pytest.raises(UserError, match='^nothing to resume: no checkpoint in work_dirs/marker_only: expected '):
        run_experiments.choose_start(resume, run_experiments.prepare_config(resume))
    # --resume auto starts afresh when there is nothing, and says so.
    auto = run_experiments.parse_args(args('work_dirs/auto', 1, '--resume', 'auto'))
    cfg = run_experiments.prepare_config(auto)
    run_experiments.choose_start(auto, cfg)
    assert 'no checkpoint in work_dirs/auto, starting at iteration 0' in capsys.readouterr().out
    assert not cfg.get('resume')
    with pytest.raises(UserError, match="--resume takes no value or 'auto', got 'yes'"):
        run_experiments.prepare_config(run_experiments.parse_args(args('work_dirs/auto', 1, '--resume', 'yes')))


def test_load_from_must_fit(demo_dir, monkeypatch):
    source = demo_dir / 'work_dirs/base/iter_1.pth'
    wide = ['model.decode_head.channels=32', 'model.decode_head.decoder_params.embed_dims=32']
    # Another head width: refused before any iteration, naming the key and both shapes.
    with pytest.raises(UserError, match=r'iter_1.pth does not fit the model: decode_head\.conv_seg\.weight has '
                                        r'shape \(19, 16, 1, 1\) in the checkpoint, \(19, 32, 1, 1\) in the model'):
        train(demo_dir, monkeypatch, 'work_dirs/wide', 1, f'load_from={source}', *wide)
    assert not (demo_dir / 'work_dirs/wide/iter_1.pth').exists()
    # Part of it, explicitly: the backbone loads, the log says what did not.
    out = train(demo_dir, monkeypatch, 'work_dirs/wide_part', 1, f'load_from={source}', *wide, 'log_level=INFO',
                '--load-part', 'backbone')
    log = next(out.glob('*/*.log')).read_text()
    assert 'tensors under backbone.: backbone.* (' in log
    assert 'model tensors keep their initialisation: decode_head.* (' in log
