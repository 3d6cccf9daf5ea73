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
