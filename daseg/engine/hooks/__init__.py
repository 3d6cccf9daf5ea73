from .checkpoint import SafeCheckpointHook
from .debug_images import DebugImageHook
from .deferred_runtime_info import DeferredRuntimeInfoHook
from .training_curve import TrainingCurveHook

__all__ = ['DebugImageHook', 'DeferredRuntimeInfoHook', 'SafeCheckpointHook', 'TrainingCurveHook']
