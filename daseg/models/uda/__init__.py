"""The UDA wrapper, its teachers and components, and the DACS preset; step functions one concern per module."""
from .class_mix import class_mix_masks, mix
from .cut_mix import CUT_AREA, cut_mix_boxes, cut_mix_masks
from .ema import disable_teacher_dropout, ema_alpha, freeze_teacher, init_teacher, update_teacher
from .feature_distance import THING_CLASSES, downscale_label_ratio, feature_distance, thing_class_fd_loss
from .masking import BlockMaskGenerator, build_mask_generator
from .mmd import multi_kernel_mmd
from .pseudo_label import apply_valid_mask, ignore_border, pseudo_label
from .rare_class_paste import RareClassPaste
from .strong_aug import blur_kernel_size, color_jitter, denormalize, gaussian_blur, renormalize, strong_transform
from .teachers import EMATeacher, FrozenTeacher
from .step import DomainBatch, UDAStep
from .rebuilder import LayerNorm2d, Rebuilder, sincos_pos_embed
from .components import (ClassMixSelfTraining, CrossPathDistillation, CutMixSelfTraining, FeatureMMD,
                         MaskedConsistency, MaskedRepresentationModeling, SourceSupervision, TargetConsistency,
                         UDAComponent)
from .wrapper import UDAWrapper
from .dacs import DACS
from .ckd import CKD, CheckpointTeacher

__all__ = [
    'class_mix_masks', 'mix', 'CUT_AREA', 'cut_mix_boxes', 'cut_mix_masks', 'disable_teacher_dropout', 'ema_alpha',
    'freeze_teacher', 'init_teacher', 'update_teacher', 'THING_CLASSES', 'downscale_label_ratio', 'feature_distance',
    'thing_class_fd_loss',
    'BlockMaskGenerator', 'build_mask_generator', 'multi_kernel_mmd', 'RareClassPaste', 'apply_valid_mask',
    'ignore_border', 'pseudo_label',
    'blur_kernel_size', 'color_jitter', 'denormalize', 'gaussian_blur', 'renormalize', 'strong_transform',
    'EMATeacher', 'FrozenTeacher', 'DomainBatch', 'UDAStep', 'LayerNorm2d', 'Rebuilder', 'sincos_pos_embed',
    'ClassMixSelfTraining', 'CutMixSelfTraining', 'FeatureMMD', 'MaskedConsistency', 'MaskedRepresentationModeling',
    'SourceSupervision', 'TargetConsistency', 'UDAComponent', 'UDAWrapper', 'DACS', 'CrossPathDistillation', 'CKD',
    'CheckpointTeacher'
]
