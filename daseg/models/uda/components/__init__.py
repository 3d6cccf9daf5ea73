"""UDA components registered into mmseg's MODELS registry: the parts a self-training method is composed of."""
from .base import UDAComponent, scaled_losses
from .bridging import CutMixSelfTraining
from .distillation import CrossPathDistillation, soft_distillation_loss
from .feature_mmd import FeatureMMD
from .masked_consistency import MODES as MASK_MODES
from .masked_consistency import MaskedConsistency
from .masked_rebuilding import MaskedRepresentationModeling
from .self_training import ClassMixSelfTraining, teacher_pseudo_labels
from .source import SourceSupervision
from .target_consistency import TargetConsistency

__all__ = ['UDAComponent', 'scaled_losses', 'CrossPathDistillation', 'soft_distillation_loss', 'FeatureMMD',
           'MASK_MODES', 'MaskedConsistency',
           'MaskedRepresentationModeling', 'ClassMixSelfTraining', 'CutMixSelfTraining', 'teacher_pseudo_labels',
           'SourceSupervision', 'TargetConsistency']
