"""Segmentation metrics, multi-target summaries (mean, harmonic mean, 16-class mIoU) and their reports."""
from .loop import evaluate_target
from .metrics import ConfusionMatrix, accuracy_per_class, iou_per_class, nanmean, pixel_accuracy
from .report import checkpoint_label, format_console, write_csv, write_json, write_markdown, write_reports
from .summary import arithmetic_mean, harmonic_mean, summarize_targets, target_result
from .visualize import colorize, comparison_image, output_names, save_comparison

__all__ = [
    'ConfusionMatrix', 'accuracy_per_class', 'arithmetic_mean', 'checkpoint_label', 'colorize',
    'comparison_image', 'evaluate_target', 'format_console', 'harmonic_mean', 'iou_per_class', 'nanmean',
    'output_names', 'pixel_accuracy', 'save_comparison', 'summarize_targets', 'target_result', 'write_csv',
    'write_json', 'write_markdown', 'write_reports',
]
