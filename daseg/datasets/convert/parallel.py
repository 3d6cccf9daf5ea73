"""Running one function over many files, in worker processes, with a progress bar and ETA."""
import signal
import sys
from multiprocessing import Pool

from ...progress import progress_bar


def _exit_on_sigterm():
    """Worker initializer: the SIGTERM of ``Pool.terminate`` (after another task failed) ends a worker through
    SystemExit, so that a write in progress removes its temporary file instead of leaving it behind."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))


def run_parallel(func, tasks, nproc):
    """Apply `func` to every task and show progress (done/total, rate, elapsed, ETA) on stdout.

    Args:
        func (callable): Module-level function (it is sent to the worker processes by name).
        tasks (Sequence): Picklable arguments, one call each.
        nproc (int): Worker processes; 1 runs in this process.

    Returns:
        list: Results in task order. An exception in a task stops the run and is raised here.
    """
    if not tasks:
        return []
    bar = progress_bar(len(tasks), file=sys.stdout)
    results = []
    try:
        if nproc <= 1:
            for task in tasks:
                results.append(func(task))
                bar.update()
        else:
            # Chunks amortise the inter-process traffic while keeping the bar moving smoothly.
            chunksize = max(1, len(tasks) // (nproc * 16))
            with Pool(min(nproc, len(tasks)), initializer=_exit_on_sigterm) as pool:
                for result in pool.imap(func, tasks, chunksize=chunksize):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()  # ends a terminal bar's line, also before an error message
    return results
