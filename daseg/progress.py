"""Progress with an ETA that suits its stream: mmengine's redrawn bar on a terminal, plain lines elsewhere.

mmengine's ``ProgressBar`` redraws itself with carriage returns, which a log file or a CI capture keeps as one
line per update full of ``\\r``. Redirected, progress is a new line at every tenth of the work instead.
"""
import sys
import time

from mmengine.utils import ProgressBar


class LineProgress:
    """``done/total`` with the elapsed time and the ETA, one line at every ``1/steps`` of the work.

    Args:
        total (int): number of tasks.
        file (file object): where the lines go.
        steps (int): how many lines a complete run writes.
    """

    def __init__(self, total: int, file=sys.stdout, steps: int = 10):
        self.total, self.file, self.steps = total, file, steps
        self.completed = 0
        self.start = time.perf_counter()

    def update(self, num_tasks: int = 1) -> None:
        total = max(self.total, 1)
        before = self.completed * self.steps // total
        self.completed += num_tasks
        if self.completed * self.steps // total == before and self.completed < self.total:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.completed * (self.total - self.completed)
        self.file.write(f'{self.completed}/{self.total}, elapsed {elapsed:.0f} s, ETA {eta:.0f} s\n')
        self.file.flush()

    def close(self) -> None:
        """Nothing to end: every line is complete."""


class TerminalProgress(ProgressBar):
    """mmengine's ``ProgressBar``; ``close()`` ends its line."""

    def close(self) -> None:
        self.file.write('\n')
        self.file.flush()


def progress_bar(total: int, file=sys.stdout):
    """:class:`TerminalProgress` when ``file`` is a terminal, else :class:`LineProgress`; both have ``update()``
    and ``close()`` (call it also before an error message)."""
    if getattr(file, 'isatty', lambda: False)():
        return TerminalProgress(total, file=file)
    return LineProgress(total, file)
