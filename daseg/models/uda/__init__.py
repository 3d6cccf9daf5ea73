"""Building blocks of the DACS/DAFormer self-training step, one concern per module."""
from .class_mix import class_mix_masks, mix
from .ema import disable_teacher_dropout, ema_alpha, freeze_teacher, init_teacher, update_teacher
from .feature_distance import THING_CLASSES, downscale_label_ratio, feature_distance, thing_class_fd_loss
from .pseudo_label import apply_valid_mask, ignore_border, pseudo_label
from .strong_aug import blur_kernel_size, color_jitter, denormalize, gaussian_blur, renormalize, strong_transform
from .weighted_ce import pixel_weighted_ce
from .dacs import DACS

__all__ = [
    'class_mix_masks', 'mix', 'disable_teacher_dropout', 'ema_alpha', 'freeze_teacher', 'init_teacher',
    'update_teacher', 'THING_CLASSES', 'downscale_label_ratio', 'feature_distance', 'thing_class_fd_loss',
    'apply_valid_mask', 'ignore_border', 'pseudo_label', 'blur_kernel_size', 'color_jitter', 'denormalize',
    'gaussian_blur', 'renormalize', 'strong_transform', 'pixel_weighted_ce', 'DACS'
]
