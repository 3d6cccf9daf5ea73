"""UDA components registered into mmseg's MODELS registry: the parts a self-training method is composed of."""
from .base import UDAComponent
from .masked_consistency import MODES as MASK_MODES
from .masked_consistency import MaskedConsistency
from .masked_rebuilding import MaskedRepresentationModeling
from .self_training import ClassMixSelfTraining, teacher_pseudo_labels
from .source import SourceSupervision

__all__ = ['UDAComponent', 'MASK_MODES', 'MaskedConsistency', 'MaskedRepresentationModeling', 'ClassMixSelfTraining',
           'teacher_pseudo_labels', 'SourceSupervision']
