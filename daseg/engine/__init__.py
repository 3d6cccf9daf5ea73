from . import checkpoint_loader  # noqa: F401  (mmengine reads local checkpoints weights-only)
from .amp import AutocastOptimWrapper, with_amp
from .hooks import DebugImageHook, DeferredRuntimeInfoHook, TrainingCurveHook
from .layer_decay import LayerDecayOptimWrapperConstructor
from .param_groups import MergedGroupsOptimWrapperConstructor, merge_param_groups
from .runner import DasegRunner
from .schedulers import PolyWarmupLR
from .speed import apply_speed_options, configure_speed
from .uda_parallel import UDADistributedWrapper

__all__ = ['AutocastOptimWrapper', 'DasegRunner', 'DebugImageHook', 'DeferredRuntimeInfoHook',
           'LayerDecayOptimWrapperConstructor', 'MergedGroupsOptimWrapperConstructor', 'PolyWarmupLR', 'TrainingCurveHook',
           'UDADistributedWrapper', 'apply_speed_options', 'configure_speed', 'merge_param_groups', 'with_amp']
