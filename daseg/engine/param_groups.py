"""Optimiser parameter groups merged by their settings.

With a ``paramwise_cfg`` (the DAFormer recipe: head at 10x the learning rate, no weight decay on norms), mmengine's
``DefaultOptimWrapperConstructor`` makes one parameter group per tensor: about a thousand for MiT-B5 with a DAFormer
head. The optimiser then runs its update group by group, a few kernels per tensor; in the originals this loop
cost about 0.12 s of a 0.64 s step on an H100. :class:`MergedGroupsOptimWrapperConstructor` merges the groups whose
settings are equal (four for the DAFormer recipe), so that each group is updated by a handful of multi-tensor
(``foreach``) kernels. Every parameter gets exactly the update it got before.
"""
import copy

from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

MERGED_CONSTRUCTOR = 'MergedGroupsOptimWrapperConstructor'


def merge_param_groups(groups):
    """Merge the parameter groups whose settings (every key but ``params``) are equal, in first-seen order.

    Args:
        groups (list[dict]): optimiser parameter groups.

    Returns:
        list[dict]: the merged groups; the parameters keep their order within each group.
    """
    merged = {}
    for group in groups:
        settings = {key: value for key, value in group.items() if key != 'params'}
        key = repr(sorted(settings.items()))
        merged.setdefault(key, dict(settings, params=[]))['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` (same arguments, same ``paramwise_cfg``) with merged parameter groups."""

    def add_params(self, params, module, prefix='', is_dcn_module=None):
        if prefix:  # a recursive call for a sub-module: collect as mmengine does
            return super().add_params(params, module, prefix, is_dcn_module)
        groups = []
        super().add_params(groups, module, prefix, is_dcn_module)
        params.extend(merge_param_groups(groups))


def with_merged_groups(optim_wrapper: dict) -> dict:
    """The ``optim_wrapper`` config with :class:`MergedGroupsOptimWrapperConstructor` unless it names a constructor.

    Args:
        optim_wrapper (dict): a config's ``optim_wrapper``.

    Returns:
        dict: a copy.
    """
    cfg = copy.deepcopy(dict(optim_wrapper))
    cfg.setdefault('constructor', MERGED_CONSTRUCTOR)
    return cfg
