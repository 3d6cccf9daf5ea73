"""Randomness per training iteration: the same draws at an iteration whether the run was resumed or not."""
import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub


def current_iteration(fallback: int) -> int:
    """The Runner's iteration (in the message hub; it survives ``--resume``, unlike a counter), or ``fallback``
    outside a Runner."""
    iteration = MessageHub.get_current_instance().get_info('iter')
    return fallback if iteration is None else int(iteration)


def seed_iteration(base_seed: int, iteration: int) -> torch.Generator:
    """Seed the global generators from (run seed, iteration, rank) and return a CPU generator seeded alike, for the
    draws that decide control flow (read without waiting for a GPU)."""
    seed = (base_seed * 1_000_003 + iteration * 7919 + get_rank()) % (2 ** 63)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
