"""Writes ``training_curve.png`` into the work dir: losses and learning rate over iterations, and the
validation mIoU when validation runs."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...atomic import atomic_write
from .deferred_runtime_info import host_values


@HOOKS.register_module()
class TrainingCurveHook(Hook):
    """Records losses every iteration and plots them at every checkpoint interval and at the end.

    Args:
        interval (int): Redraw the figure every ``interval`` iterations.
        smooth (int): Window of the moving average drawn over the raw losses.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, smooth: int = 20):
        self.interval = interval
        self.smooth = smooth
        self.iters, self.losses, self.lrs = [], {}, []
        self.val = {}  # metric name -> (iterations, values)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not is_main_process():
            return  # only the main process draws
        step = runner.iter + 1
        self.iters.append(step)
        for name, value in (outputs or {}).items():
            if 'loss' in name:
                # Kept as tensors until the next drawing: a float() here would make the host wait for the GPU
                # at every iteration.
                self.losses.setdefault(name, []).append(value.detach() if hasattr(value, 'detach') else float(value))
        self.lrs.append(runner.optim_wrapper.get_lr()['lr'][0])
        if step % self.interval == 0:
            self._draw(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        # mmseg's IoUMetric reports 'mIoU'; with an evaluator prefix (several targets) '<prefix>/mIoU'.
        for name, value in (metrics or {}).items():
            if name == 'mIoU' or name.endswith('/mIoU'):
                self.val.setdefault(name, ([], []))
                self.val[name][0].append(runner.iter)
                self.val[name][1].append(float(value))

    def after_train(self, runner) -> None:
        self._draw(runner)

    def loss_series(self):
        """The losses drawn: ``{name: (iterations, values)}``, without a series equal to another one (a
        component's ``<prefix>.loss`` is its only term's ``<prefix>.decode.loss_ce``); the shorter name stays."""
        self.losses = {name: _floats(values) for name, values in self.losses.items()}
        kept = {}
        for name in sorted(self.losses, key=lambda n: (len(n), n)):
            values = self.losses[name]
            if not any(values == other for _, other in kept.values()):
                kept[name] = (self.iters[-len(values):], values)
        return {name: kept[name] for name in self.losses if name in kept}

    def figure(self):
        """The figure of losses (raw, faint, and smoothed, in one colour per series), learning rate and, when
        validation ran, mIoU."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        import numpy as np

        panels = 3 if self.val else 2
        fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6))
        for i, (name, (iters, values)) in enumerate(self.loss_series().items()):
            colour = f'C{i % 10}'
            v, it = np.asarray(values), np.asarray(iters)
            axes[0].plot(it, v, color=colour, alpha=0.25, lw=0.8)
            k = min(self.smooth, len(v))
            axes[0].plot(it[k - 1:], np.convolve(v, np.ones(k) / k, mode='valid'), color=colour, lw=1.5, label=name)
        axes[0].set(xlabel='iteration', ylabel='loss', title='training losses')
        axes[0].legend(fontsize=7)
        axes[1].plot(self.iters, self.lrs)
        axes[1].set(xlabel='iteration', ylabel='learning rate', title='learning rate (first group)')
        if self.val:
            for name, (iters, values) in self.val.items():
                axes[2].plot(iters, values, marker='o', label=name)
            axes[2].set(xlabel='iteration', ylabel='mIoU', title='validation mIoU')
            axes[2].legend(fontsize=7)
        fig.tight_layout()
        return fig

    def _draw(self, runner) -> None:
        if not is_main_process() or not self.iters:
            return
        import matplotlib.pyplot as plt
        fig = self.figure()
        atomic_write(osp.join(runner.work_dir, 'training_curve.png'),
                     lambda f: fig.savefig(f, dpi=110, format='png'), overwrite=True)
        plt.close(fig)


def _floats(values):
    """Floats and scalar tensors as floats; the tensors are copied to the host in one transfer per device."""
    return [record[0] for record in host_values([{0: value} for value in values])]
