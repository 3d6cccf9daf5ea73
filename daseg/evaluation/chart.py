"""The comparison bar chart: mIoU of every checkpoint on every target, with the mean and the harmonic mean."""
import math

from ..atomic import atomic_write


def comparison_chart(results, path, metric='mIoU'):
    """Write a grouped bar chart PNG: one group per target plus 'mean' and 'H', one bar per checkpoint.

    Args:
        results (dict): see :mod:`daseg.evaluation.report`.
        path (str): the PNG file (written atomically).
        metric (str): summary metric to draw.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups = [*results['targets'], 'mean', 'H']
    entries = results['checkpoints']
    width = 0.8 / len(entries)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) * max(1, len(entries) / 3)), 4.2))
    for i, entry in enumerate(entries):
        values = [entry['targets'][t][metric] for t in results['targets']]
        values += [entry['mean'][metric], entry['harmonic_mean'][metric]]
        xs = [g + (i - (len(entries) - 1) / 2) * width for g in range(len(groups))]
        heights = [0.0 if math.isnan(v) else v for v in values]
        bars = ax.bar(xs, heights, width * 0.95, label=entry['label'])
        for bar, value in zip(bars, values):
            text = '-' if math.isnan(value) else f'{value:.1f}'
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha='center', va='bottom',
                        fontsize=6, rotation=90 if len(entries) > 3 else 0, xytext=(0, 1),
                        textcoords='offset points')
    ax.axvline(len(results['targets']) - 0.5, color='grey', lw=0.8, ls=':')
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(f'{metric} (%)')
    ax.set_ylim(0, max(10.0, ax.get_ylim()[1] * 1.12))
    ax.set_title(f'{metric} per target, mean and harmonic mean H ({results["which"]})')
    ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(entries)))
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, dpi=120, format='png'), overwrite=True)
    plt.close(fig)
