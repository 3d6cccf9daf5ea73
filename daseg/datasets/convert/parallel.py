"""Running one function over many files, in worker processes, with a progress bar and ETA."""
import sys
from multiprocessing import Pool

from ...progress import progress_bar


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
            with Pool(min(nproc, len(tasks))) as pool:
                for result in pool.imap(func, tasks, chunksize=chunksize):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()  # ends a terminal bar's line, also before an error message
    return results
