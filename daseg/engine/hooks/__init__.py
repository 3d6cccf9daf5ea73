from .checkpoint import SafeCheckpointHook
from .deferred_runtime_info import DeferredRuntimeInfoHook
from .training_curve import TrainingCurveHook

__all__ = ['DeferredRuntimeInfoHook', 'SafeCheckpointHook', 'TrainingCurveHook']
