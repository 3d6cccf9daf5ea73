"""Union-set multi-source model adaptation: label sets per source, the maths of its stages, and its models."""
from .ensemble import lift, logit_ensemble, max_square, shared_classes, shared_logit_consistency
from .label_sets import NUM_CLASSES, SETTINGS, SOURCES, TABLES, VOID_MODES, LabelSet, label_sets
from .sources import UnionSetSources
from .stage1 import UnionSetStage1
from .stage2 import UnionSetStage2
from .thresholds import DEFAULT_BINS, ConfidenceHistogram, apply_thresholds, dequantise, quantise

__all__ = [
    'NUM_CLASSES', 'SETTINGS', 'SOURCES', 'TABLES', 'VOID_MODES', 'LabelSet', 'label_sets', 'lift',
    'logit_ensemble', 'max_square', 'shared_classes', 'shared_logit_consistency',
    'UnionSetSources', 'UnionSetStage1', 'UnionSetStage2',
    'DEFAULT_BINS', 'ConfidenceHistogram', 'apply_thresholds', 'dequantise', 'quantise',
]
