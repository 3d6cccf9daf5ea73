"""tools/run_parallel.py: commands side by side with their thread share, progress lines, logs; a failure stops
the others and names itself."""
import io
import os
import shlex
import sys

import pytest

from entry_points import load_script

run_parallel = load_script('tools/run_parallel')
PY = shlex.quote(sys.executable)


def script(code):
    return f'{PY} -c {shlex.quote(code)}'


def test_commands_overlap_and_each_gets_its_thread_share(tmp_path):
    # Each command waits until every other has started: they can only all finish if they run at the same time.
    code = ('import os, sys, time; open(sys.argv[1] + "/" + sys.argv[2], "w").close(); '
            'print("threads", os.environ["OMP_NUM_THREADS"]); '
            'print("Iter(train) [ 50/400]  lr: 1e-3  eta: 0:01:02  time: 0.9", flush=True); '
            'deadline = time.time() + 60\n'
            'while len(os.listdir(sys.argv[1])) < 3 and time.time() < deadline: time.sleep(0.05)\n'
            'sys.exit(0 if len(os.listdir(sys.argv[1])) == 3 else 1)')
    started = tmp_path / 'started'
    started.mkdir()
    jobs = {name: [sys.executable, '-c', code, str(started), name] for name in ('a', 'b', 'c')}
    out = io.StringIO()
    assert run_parallel.run(jobs, str(tmp_path / 'logs'), threads=2, out=out) == 0
    for name in jobs:
        log = (tmp_path / 'logs' / f'{name}.log').read_text()
        assert log.startswith('threads 2\n') and 'eta: 0:01:02' in log
    lines = out.getvalue().splitlines()
    assert lines[0] == f'3 commands side by side, 2 thread(s) each; logs in {tmp_path / "logs"}/'
    assert sorted(line for line in lines if 'iteration' in line) == \
        [f'[{n}] iteration 50/400, ETA 0:01:02' for n in 'abc']
    assert sum(line.startswith('[') and ' done after ' in line for line in lines) == 3


def test_default_threads_share_the_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr(os, 'cpu_count', lambda: 2)
    jobs = {n: [sys.executable, '-c', 'import os; print(os.environ["OMP_NUM_THREADS"])'] for n in 'abc'}
    assert run_parallel.run(jobs, str(tmp_path), out=io.StringIO()) == 0
    assert [(tmp_path / f'{n}.log').read_text() for n in 'abc'] == ['1\n'] * 3  # 2 CPUs // 3, at least 1


def test_a_failure_stops_the_others_and_shows_its_log(tmp_path):
    pid_file = tmp_path / 'pid'
    jobs = {'slow': [sys.executable, '-c', f'import os, time; open({str(pid_file)!r}, "w").write(str(os.getpid())); '
                                            'time.sleep(120)'],
            'broken': [sys.executable, '-c', 'import os, sys, time\n'
                                             f'while not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\n'
                                             'print("no such file: x.pth"); sys.exit(3)']}
    out = io.StringIO()
    assert run_parallel.run(jobs, str(tmp_path / 'logs'), out=out) == 3
    assert '[broken] failed (exit status 3); the others were stopped.' in out.getvalue()
    assert out.getvalue().rstrip().endswith('no such file: x.pth')
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(int(pid_file.read_text()), 0)


@pytest.mark.parametrize('argv, message', [
    (['x'], "'x': expected NAME=COMMAND"),
    (['a b=true'], "expected NAME=COMMAND"),
    (['a=true', 'a=false'], 'two commands are named a'),
    (['a=true', '--threads', '0'], '--threads must be at least 1'),
])
def test_bad_arguments_end_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_parallel.parse_args(argv + ['--log-dir', 'logs'])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_commands_are_split_like_a_shell():
    args = run_parallel.parse_args(['--log-dir', 'logs', f'train={script("print(1)")} --flag "two words"'])
    assert args.jobs == {'train': [sys.executable, '-c', 'print(1)', '--flag', 'two words']}
