"""Running one function over many files, in worker processes, with a progress bar and ETA."""
import multiprocessing
import sys
from functools import partial
from multiprocessing import Pool

from ...progress import progress_bar

# The worker's copy of the run's stop event (set by the main process once a task has failed).
_stop = None


def _share_stop(stop):
    global _stop
    _stop = stop


def _unless_stopped(func, task):
    return None if _stop.is_set() else func(task)


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
            stop = multiprocessing.Event()
            with Pool(min(nproc, len(tasks)), initializer=_share_stop, initargs=(stop,)) as pool:
                try:
                    for result in pool.imap(partial(_unless_stopped, func), tasks, chunksize=chunksize):
                        results.append(result)
                        bar.update()
                except Exception:
                    # Not Pool.terminate at once: it would kill other workers inside their atomic writes and
                    # leave the temporary files behind. The tasks in progress end, the others are skipped.
                    stop.set()
                    pool.close()
                    pool.join()
                    raise
    finally:
        bar.close()  # ends a terminal bar's line, also before an error message
    return results
