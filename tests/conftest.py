"""Fixtures shared by several test files."""
import pytest
import torch


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
