"""The converters' worker pool: results in task order, and a failed task stops the run without leaving the
temporary file of another worker's write behind (the write ends complete)."""
import time

import pytest

from daseg.atomic import atomic_write
from daseg.datasets.convert.parallel import run_parallel
from daseg.errors import UserError


def square(x):
    return x * x


def fail_or_write_slowly(task):
    """Task 0 fails once task 1 is inside its write; task 1 writes for longer than that."""
    index, folder = task
    if index == 0:
        time.sleep(0.5)
        raise UserError('task 0 failed')
    atomic_write(f'{folder}/out{index}.bin', lambda f: (f.write(b'x'), time.sleep(2)), sync=False)


def test_results_in_task_order_in_and_out_of_process():
    assert run_parallel(square, list(range(7)), nproc=1) == run_parallel(square, list(range(7)), nproc=2) == \
        [x * x for x in range(7)]


def test_a_failed_task_lets_a_write_in_progress_end_complete(tmp_path):
    with pytest.raises(UserError, match='task 0 failed'):
        run_parallel(fail_or_write_slowly, [(0, tmp_path), (1, tmp_path)], nproc=2)
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [('out1.bin', b'x')]  # no temporary file
