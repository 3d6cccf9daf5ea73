from .training_curve import TrainingCurveHook

__all__ = ['TrainingCurveHook']
