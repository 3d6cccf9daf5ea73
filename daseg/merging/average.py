"""Weighted average of model weights, accumulated one model at a time (one extra model in memory)."""
import torch


def accumulator_dtype(dtype):
    # Half-precision inputs are summed in float32; float32 sums of N <= a few dozen models are exact to
    # float rounding, which is what merging can promise anyway.
    return torch.float64 if dtype == torch.float64 else torch.float32


class WeightedSum:
    """``sum_k w_k * theta_k`` over the floating-point tensors of state dicts added one at a time; integer
    tensors are taken from the first model.

    Args:
        keys (Iterable[str]): the keys to average (parameters and any non-BatchNorm buffers).
    """

    def __init__(self, keys):
        self.keys = list(keys)
        self.sums = {}
        self.dtypes = {}

    def add(self, state_dict, weight):
        """Add ``weight * state_dict[key]`` for every key."""
        for key in self.keys:
            tensor = state_dict[key]
            if key not in self.sums:
                self.dtypes[key] = tensor.dtype
                if tensor.is_floating_point():
                    self.sums[key] = tensor.to(accumulator_dtype(tensor.dtype)) * weight
                else:
                    self.sums[key] = tensor.clone()
            elif tensor.is_floating_point():
                self.sums[key].add_(tensor, alpha=weight)

    def result(self):
        """dict[str, Tensor]: the sums, in each key's original dtype."""
        return {key: self.sums[key].to(self.dtypes[key]) for key in self.keys}
