"""Fixtures shared by several test files, and the threads of parallel test workers."""
import os

import pytest
import torch


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs one worker per core) each worker gets its share of the cores, for
    torch and for the scripts its tests start: more threads than cores spin-wait and run several times slower."""
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if workers:
        threads = max(1, (os.cpu_count() or 1) // int(workers))
        os.environ['OMP_NUM_THREADS'] = str(threads)
        torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def one_thread():
    """torch on one thread for a test module, restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_random_init(monkeypatch):
    """Parameters keep the memory they were allocated with instead of random initial values: for tests that
    read only a model's structure (names, shapes, counts). Drawing the values is most of the time it takes to
    build a MiT-B5 model on the CPU."""
    for draw in ('uniform_', 'normal_'):
        monkeypatch.setattr(torch.Tensor, draw, lambda tensor, *args, **kwargs: tensor)


@pytest.fixture(scope='module')
def plain_config_text():
    """mmengine lays out a config's text with yapf whenever a Runner starts (log and dump) and in every checkpoint
    it saves, 0.2 to 0.5 s each on 2 cores: for a module of short training runs, a large part of their time. Here
    the text is the same Python without that layout (mmengine reads it back the same); for modules that never
    look at the layout."""
    from yapf.yapflib import yapf_api
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yapf_api, 'FormatCode', lambda text, **kwargs: (text, False))
        yield
