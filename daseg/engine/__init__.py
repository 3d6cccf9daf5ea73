from .hooks import TrainingCurveHook
from .runner import DasegRunner
from .schedulers import PolyWarmupLR

__all__ = ['DasegRunner', 'PolyWarmupLR', 'TrainingCurveHook']
