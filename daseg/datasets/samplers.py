"""A sampler for datasets that draw each sample from (seed, position in the stream)."""
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class PositionSampler(Sampler):
    """An endless stream of positions 0, 1, 2, ... (interleaved over ranks) for a dataset with
    ``set_seed``, such as UDADataset, that derives everything random about a sample from the run's seed and
    its position. A resumed run that skips to the same position sees exactly the same samples, whatever
    the number of data-loader workers.

    Args:
        dataset: The dataset; it receives the seed through ``set_seed``.
        seed (int, optional): The run's seed (the Runner passes it); synchronised over ranks when None.
    """

    def __init__(self, dataset, seed=None):
        self.dataset = dataset
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else seed
        dataset.set_seed(self.seed)
        self.start = 0

    def __iter__(self):
        position = self.start * self.world_size + self.rank
        while True:
            yield position
            position += self.world_size

    def __len__(self):
        return len(self.dataset)

    def skip(self, num_samples: int) -> None:
        """Continue from the absolute per-rank position ``num_samples`` (mmengine's resume contract)."""
        self.start = num_samples

    def set_epoch(self, epoch: int) -> None:
        """Epochs do not exist in the stream."""
