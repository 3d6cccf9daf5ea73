#!/usr/bin/env python
"""Run independent commands at the same time, each on its share of the CPU threads, with their progress.

    python tools/run_parallel.py --log-dir work_dirs/demo/logs \\
        dacs_idd="python run_experiments.py configs/demo/gta2idd_dacs.py --work-dir ..." \\
        dacs_cs="python run_experiments.py configs/demo/gta2cityscapes_dacs.py --work-dir ..."

On a small CPU, training runs that each use one thread finish sooner side by side than one after another
with all threads each: their small operations keep a single core busy, not two (measured on 2 cores: two
one-thread DACS demo runs side by side at 0.88 and 0.93 s/iter, one two-thread run at 0.67 s/iter).

Each command gets OMP_NUM_THREADS = the CPU count divided by the number of commands (at least 1) unless
--threads says otherwise, and writes everything it prints to LOG_DIR/NAME.log. The training progress lines
(mmengine's ``Iter(train) [i/N] ... eta``) are shown, shortened, with the command's name. When a command fails,
the others are stopped, the end of its log is printed and this exits with its exit status.
"""
import argparse
import os
import os.path as osp
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

PROGRESS = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\].*?eta: (\S+)')
TAIL_LINES = 20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('jobs', nargs='+', metavar='NAME=COMMAND', help='a name (for its log) and a shell-quoted command')
    p.add_argument('--log-dir', required=True, help='folder of the commands\' logs (NAME.log)')
    p.add_argument('--threads', type=int, help='OMP_NUM_THREADS of each command (default: CPU count / commands)')
    args = p.parse_args(argv)
    jobs = {}
    for job in args.jobs:
        name, sep, command = job.partition('=')
        if not sep or not re.fullmatch(r'[\w.-]+', name) or not command.strip():
            p.error(f'{job!r}: expected NAME=COMMAND, NAME of letters, digits, ".", "-" or "_"')
        if name in jobs:
            p.error(f'two commands are named {name}')
        jobs[name] = shlex.split(command)
    args.jobs = jobs
    if args.threads is not None and args.threads < 1:
        p.error('--threads must be at least 1')
    return args


class Job:
    """One command in its own process group, its output copied to its log; progress lines go to ``show``."""

    def __init__(self, name, command, log_path, env, show):
        self.name, self.log_path, self.show = name, log_path, show
        self.log = open(log_path, 'w')
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                        text=True, bufsize=1, start_new_session=True)
        self.reader = threading.Thread(target=self._copy, daemon=True)
        self.reader.start()

    def _copy(self):
        for line in self.process.stdout:
            self.log.write(line)
            self.log.flush()
            match = PROGRESS.search(line)
            if match:
                done, total, eta = match.groups()
                self.show(f'[{self.name}] iteration {done}/{total}, ETA {eta}')

    def finish(self):
        """The exit status, once its output is all in the log."""
        code = self.process.wait()
        self.reader.join()
        self.log.close()
        return code

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)


def tail(path, lines=TAIL_LINES):
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def run(jobs, log_dir, threads=None, out=sys.stdout):
    """Run ``jobs`` ({name: argv}) side by side; returns 0, or the exit status of the first that failed."""
    os.makedirs(log_dir, exist_ok=True)
    threads = threads or max(1, (os.cpu_count() or 1) // len(jobs))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    lock = threading.Lock()

    def show(line):
        with lock:
            out.write(line + '\n')
            out.flush()
    start = time.perf_counter()
    show(f'{len(jobs)} commands side by side, {threads} thread(s) each; logs in {log_dir}/')
    running = {name: Job(name, argv, osp.join(log_dir, f'{name}.log'), env, show) for name, argv in jobs.items()}
    try:
        while running:
            for name, job in list(running.items()):
                if job.process.poll() is None:
                    continue
                code = job.finish()
                del running[name]
                if code != 0:
                    for other in running.values():
                        other.stop()
                    for other in running.values():
                        other.finish()
                    show(f'[{name}] failed (exit status {code}); the others were stopped. The end of '
                         f'{job.log_path}:\n{tail(job.log_path)}')
                    return code
                show(f'[{name}] done after {(time.perf_counter() - start) / 60:.1f} min')
            time.sleep(0.2)
    except KeyboardInterrupt:
        for job in running.values():
            job.stop()
        for job in running.values():
            job.finish()
        raise
    return 0


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # the commands run in their own sessions: stop them as on Ctrl-C


if __name__ == '__main__':
    arguments = parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    sys.exit(run(arguments.jobs, arguments.log_dir, arguments.threads))
