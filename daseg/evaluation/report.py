"""Evaluation reports: console tables, results.json / results.csv / results.md, and the comparison of the
checkpoints (comparison.csv / comparison.md / comparison.png: mIoU per target, mean and harmonic mean).

They all read one ``results`` dict (numbers in percent, NaN = undefined)::

    {'config': str, 'which': 'student', 'unit': 'percent', 'tta': bool, 'classes': [19 names],
     'targets': [labelled target names], 'predicted_only': [targets without labels, not in the tables],
     'checkpoints': [{'checkpoint': path, 'label': short name, 'meta': {...},
                      'targets': {target: daseg.evaluation.summary.target_result(...)},
                      'mean': {'mIoU': .., ...}, 'harmonic_mean': {'mIoU': .., ...}}]}
"""
import csv
import io
import json
import math
import os.path as osp
import re

from ..atomic import atomic_write_text
from .chart import comparison_chart
from .summary import SUMMARY_METRICS

NAN_TEXT = '-'
_NAN_NOTE = f'{NAN_TEXT} = undefined (class absent from both ground truth and prediction)'


def checkpoint_label(path):
    """A short name for a checkpoint in tables: its folder and file name, e.g. ``source_only/iter_4000.pth``."""
    path = osp.normpath(path)
    return osp.join(osp.basename(osp.dirname(path)), osp.basename(path))


def _pct(value, digits=2):
    return NAN_TEXT if value is None or math.isnan(value) else f'{value:.{digits}f}'


def _summary_metrics(results):
    """Summary metrics present in every result, e.g. ``['mIoU', 'mIoU16']``."""
    entries = results['checkpoints']
    return [m for m in SUMMARY_METRICS if entries and all(m in e['mean'] for e in entries)]


def _summary_rows(results, metric):
    header = ['checkpoint', *results['targets'], 'mean', 'H']
    rows = [[e['label'], *(_pct(e['targets'][t][metric]) for t in results['targets']),
             _pct(e['mean'][metric]), _pct(e['harmonic_mean'][metric])] for e in results['checkpoints']]
    return header, rows


def _class_rows(results, entry):
    """Per-class IoU of one checkpoint: one row per class, one column per target, then the means."""
    targets = [entry['targets'][t] for t in results['targets']]
    rows = [[name, *(_pct(r['IoU'][name]) for r in targets)] for name in results['classes']]
    for key in ('mIoU', 'mIoU16', 'aAcc', 'mAcc'):
        if all(key in r for r in targets):
            rows.append([key, *(_pct(r[key]) for r in targets)])
    return ['class', *results['targets']], rows


def _text_table(header, rows):
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        first = str(cells[0]).ljust(widths[0])
        return '  '.join([first, *(str(c).rjust(w) for c, w in zip(cells[1:], widths[1:]))]).rstrip()

    return '\n'.join([line(header), '-' * len(line(header)), *(line(r) for r in rows)])


def _markdown_table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def format_console(results):
    """Plain-text tables: per-class IoU of each checkpoint, then one summary table per summary metric.

    Args:
        results (dict): see the module docstring.

    Returns:
        str: the text to print.
    """
    blocks = []
    for entry in results['checkpoints']:
        title = f"Per-class IoU (%) of {entry['checkpoint']} ({results['which']})"
        blocks.append(title + '\n' + _text_table(*_class_rows(results, entry)))
    for metric in _summary_metrics(results):
        blocks.append(f'Summary: {metric} (%), H = harmonic mean over targets\n'
                      + _text_table(*_summary_rows(results, metric)))
    return '\n\n'.join(blocks) + f'\n{_NAN_NOTE}'


def _without_nan(obj):
    """JSON has no NaN: undefined values become null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _without_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_without_nan(v) for v in obj]
    return obj


def write_json(results, path):
    """All numbers, including the confusion matrices; NaN is written as null. Flat lists take one line each."""
    text = json.dumps(_without_nan(results), indent=1, allow_nan=False)
    # JSON strings hold no raw newline, so this only joins the lines of lists without nested lists/dicts.
    text = re.sub(r'\[[^\[\]{}]*\]', lambda m: re.sub(r'\n\s*', ' ', m[0]), text)
    atomic_write_text(path, text + '\n')


def write_csv(results, path):
    """One row per checkpoint x target: summary numbers, then the IoU of every class (empty = undefined)."""
    metrics = [m for m in ('mIoU', 'mIoU16', 'aAcc', 'mAcc')
               if all(m in e['targets'][t] for e in results['checkpoints'] for t in results['targets'])]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(['checkpoint', 'target', 'num_images', *metrics, *results['classes']])
    for entry in results['checkpoints']:
        for target in results['targets']:
            r = entry['targets'][target]
            values = [r[m] for m in metrics] + [r['IoU'][c] for c in results['classes']]
            writer.writerow([entry['checkpoint'], target, r['num_images'],
                             *('' if math.isnan(v) else f'{v:.4f}' for v in values)])
    atomic_write_text(path, buffer.getvalue())


def write_markdown(results, path):
    """Summary tables (targets, mean, H) and a per-class IoU table (one row per checkpoint x target)."""
    parts = [f"# Evaluation ({results['which']})", '', f"config: `{results['config']}`", '']
    for metric in _summary_metrics(results):
        parts += [f'## Summary: {metric} (%)', '', _markdown_table(*_summary_rows(results, metric)), '']
    header = ['checkpoint', 'target', *results['classes'], 'mIoU']
    rows = [[e['label'], t, *(_pct(e['targets'][t]['IoU'][c]) for c in results['classes']),
             _pct(e['targets'][t]['mIoU'])] for e in results['checkpoints'] for t in results['targets']]
    parts += ['## Per-class IoU (%)', '', _markdown_table(header, rows), '', _NAN_NOTE, '']
    atomic_write_text(path, '\n'.join(parts))


def write_comparison_csv(results, path):
    """One row per checkpoint: each summary metric on every target, its mean and H (empty = undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    metrics = _summary_metrics(results)
    writer.writerow(['checkpoint', 'label', *(f'{m}:{col}' for m in metrics
                                               for col in [*results['targets'], 'mean', 'H'])])
    for entry in results['checkpoints']:
        values = [v for m in metrics for v in [*(entry['targets'][t][m] for t in results['targets']),
                                               entry['mean'][m], entry['harmonic_mean'][m]]]
        writer.writerow([entry['checkpoint'], entry['label'], *('' if math.isnan(v) else f'{v:.4f}' for v in values)])
    atomic_write_text(path, buffer.getvalue())


def write_comparison_markdown(results, path):
    """The summary tables alone, with the chart below them."""
    parts = [f"# Comparison ({results['which']})", '', f"config: `{results['config']}`", '']
    for metric in _summary_metrics(results):
        parts += [f'## {metric} (%), H = harmonic mean over targets', '',
                  _markdown_table(*_summary_rows(results, metric)), '']
    parts += ['![comparison](comparison.png)', '']
    atomic_write_text(path, '\n'.join(parts))


def write_reports(results, out_dir):
    """Write results.json/.csv/.md and comparison.csv/.md/.png into ``out_dir`` (an existing folder).

    Returns:
        list[str]: the written paths.
    """
    writers = {'results.json': write_json, 'results.csv': write_csv, 'results.md': write_markdown,
               'comparison.csv': write_comparison_csv, 'comparison.md': write_comparison_markdown,
               'comparison.png': comparison_chart}
    paths = []
    for name, write in writers.items():
        paths.append(osp.join(out_dir, name))
        write(results, paths[-1])
    return paths
