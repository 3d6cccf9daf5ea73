"""Utilities the models share: crop boxes and sliding windows, the sync-free pixel accuracy."""
from .accuracy import accuracy
from .boxes import box_mask, crop, paste_windows, random_crop_box, sliding_window_boxes

__all__ = ['accuracy', 'box_mask', 'crop', 'paste_windows', 'random_crop_box', 'sliding_window_boxes']
