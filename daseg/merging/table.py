"""The merging paper's table: every subset of the per-target models, each evaluated on every target.

One row per subset (the single models, then every merge of two, three, ... of them) with a mark per included
model, the mIoU on each target, their mean and harmonic mean H; written as markdown and CSV, and drawn as a
heatmap (subset x target). Evaluations are cached per subset under a key of everything that determines them,
so an interrupted or repeated run evaluates only what is missing.
"""
import csv
import hashlib
import io
import itertools
import json
import math
import os
import os.path as osp
import re

from ..atomic import atomic_write, atomic_write_text
from ..errors import UserError

MARK = 'x'
_NAME = re.compile(r'[A-Za-z0-9_.-]+')


def subsets(k):
    """tuple[int, ...] per non-empty subset of ``range(k)``: by size, then in input order (2^k - 1 of them)."""
    return [c for size in range(1, k + 1) for c in itertools.combinations(range(k), size)]


def check_names(names):
    """Names of the inputs, used in file names and column headers: distinct, letters, digits, ``_.-``."""
    for name in names:
        if not _NAME.fullmatch(name):
            raise UserError(f'--names: {name!r} may only hold letters, digits and _ . -')
    if len(set(names)) != len(names):
        raise UserError(f'--names must be distinct, got {" ".join(names)}')
    return list(names)


def subset_label(names, subset):
    """e.g. ``cityscapes+idd``."""
    return '+'.join(names[i] for i in subset)


def cache_key(payload):
    """Hex sha256 of a JSON-serialisable description of one evaluation."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class EvaluationCache:
    """One JSON file per subset in ``folder``, valid while its key matches.

    Args:
        folder (str): created if missing.
    """

    def __init__(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.folder = folder

    def _path(self, label):
        return osp.join(self.folder, f'{label}.json')

    def get(self, label, key):
        """The cached entry of ``label``, or None when absent, unreadable or made under another key."""
        try:
            with open(self._path(label)) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            return None
        return saved.get('entry') if saved.get('key') == key else None

    def put(self, label, key, entry):
        atomic_write_text(self._path(label), json.dumps({'key': key, 'entry': entry}, indent=1), overwrite=True)


def _pct(value):
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else f'{value:.2f}'


def table_rows(names, targets, rows, metric='mIoU'):
    """Header and rows: a mark per input, the metric per target, mean, H.

    Args:
        names (list[str]): the K inputs.
        targets (list[str]): target names.
        rows (list[tuple[tuple[int, ...], dict]]): (subset, its evaluation entry, see daseg.evaluation.report).
        metric (str): ``'mIoU'`` or ``'mIoU16'``.

    Returns:
        tuple[list[str], list[list]]: header and rows of numbers (NaN where undefined) and marks.
    """
    header = ['models', *names, *(f'{t} {metric}' for t in targets), 'mean', 'H']
    out = []
    for subset, entry in rows:
        marks = [MARK if i in subset else '' for i in range(len(names))]
        values = [entry['targets'][t][metric] for t in targets]
        out.append([len(subset), *marks, *values, entry['mean'][metric], entry['harmonic_mean'][metric]])
    return header, out


def markdown(header, rows, n_marks):
    """A markdown table; the best value of each numeric column in bold."""
    numbers = list(zip(*[row[1 + n_marks:] for row in rows]))
    best = [max((v for v in col if not math.isnan(v)), default=None) for col in numbers]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---:|' * (1 + n_marks + len(best))]
    for row in rows:
        cells = [str(row[0]), *row[1:1 + n_marks]]
        for value, top in zip(row[1 + n_marks:], best):
            cells.append(f'**{_pct(value)}**' if top is not None and value == top else _pct(value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_csv(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(header)
    writer.writerows([[c if isinstance(c, (str, int)) else _pct(c) for c in row] for row in rows])
    atomic_write_text(path, buffer.getvalue(), overwrite=True)


def heatmap(path, labels, columns, values, title):
    """A PNG heatmap: one row per subset, one column per target (then mean and H), values written in.

    Args:
        path (str): written atomically.
        labels (list[str]): row labels.
        columns (list[str]): column labels.
        values (list[list[float]]): rows x columns, percent (NaN drawn blank).
        title (str): figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    data = np.array(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 3.5, 0.34 * len(labels) + 1.6))
    image = ax.imshow(np.ma.masked_invalid(data), cmap='viridis', aspect='auto')
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha='right')
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.axvline(len(columns) - 2.5, color='white', lw=2)  # targets | mean, H
    middle = np.nanmean(data) if np.isfinite(data).any() else 0.0
    for (r, c), value in np.ndenumerate(data):
        if math.isfinite(value):
            ax.text(c, r, f'{value:.1f}', ha='center', va='center', fontsize=7,
                    color='black' if value > middle else 'white')
    fig.colorbar(image, ax=ax, label='mIoU (%)')
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, dpi=120, format='png'), overwrite=True)
    plt.close(fig)
