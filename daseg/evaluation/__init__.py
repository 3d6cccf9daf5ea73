"""Segmentation metrics, multi-target summaries (mean, harmonic mean, 16-class mIoU), their reports, and the
evaluation command (test-time augmentation, raw and test-split predictions)."""
from .command import build_model, default_out_dir, evaluate_checkpoints, resolve_checkpoints, run_test
from .loop import evaluate_target
from .metrics import ConfusionMatrix, accuracy_per_class, iou_per_class, nanmean, pixel_accuracy
from .predictions import prediction_path, save_trainids
from .report import checkpoint_label, format_console, write_csv, write_json, write_markdown, write_reports
from .splits import to_test_split
from .summary import arithmetic_mean, harmonic_mean, summarize_targets, target_result
from .targets import build_dataloader, check_classes, check_loader_options, is_labelled, select_targets
from .tta import TTA_RATIOS, tta_predict, tta_test_step
from .visualize import colorize, comparison_image, output_names, save_comparison

__all__ = [
    'accuracy_per_class', 'arithmetic_mean', 'build_dataloader', 'build_model', 'check_classes',
    'check_loader_options', 'checkpoint_label', 'colorize', 'comparison_image', 'ConfusionMatrix',
    'default_out_dir',
    'evaluate_checkpoints', 'evaluate_target', 'format_console', 'harmonic_mean',
    'iou_per_class', 'is_labelled', 'nanmean', 'output_names', 'pixel_accuracy', 'prediction_path',
    'resolve_checkpoints', 'run_test', 'save_comparison', 'save_trainids', 'select_targets',
    'summarize_targets', 'target_result', 'to_test_split', 'tta_predict', 'TTA_RATIOS', 'tta_test_step',
    'write_csv', 'write_json', 'write_markdown', 'write_reports',
]
