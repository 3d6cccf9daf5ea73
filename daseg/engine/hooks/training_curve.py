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
        self.val_iters, self.val_miou = [], []

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
        if metrics and 'mIoU' in metrics:
            self.val_iters.append(runner.iter)
            self.val_miou.append(float(metrics['mIoU']))

    def after_train(self, runner) -> None:
        self._draw(runner)

    def _draw(self, runner) -> None:
        if not is_main_process() or not self.iters:
            return
        self.losses = {name: _floats(values) for name, values in self.losses.items()}
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        import numpy as np

        panels = 3 if self.val_miou else 2
        fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6))
        for name, values in self.losses.items():
            v = np.asarray(values)
            it = np.asarray(self.iters[-len(v):])
            axes[0].plot(it, v, alpha=0.25, lw=0.8)
            k = min(self.smooth, len(v))
            axes[0].plot(it[k - 1:], np.convolve(v, np.ones(k) / k, mode='valid'), lw=1.5, label=name)
        axes[0].set(xlabel='iteration', ylabel='loss', title='training losses')
        axes[0].legend(fontsize=7)
        axes[1].plot(self.iters, self.lrs)
        axes[1].set(xlabel='iteration', ylabel='learning rate', title='learning rate (first group)')
        if self.val_miou:
            axes[2].plot(self.val_iters, self.val_miou, marker='o')
            axes[2].set(xlabel='iteration', ylabel='mIoU', title='validation mIoU')
        fig.tight_layout()
        atomic_write(osp.join(runner.work_dir, 'training_curve.png'),
                     lambda f: fig.savefig(f, dpi=110, format='png'), overwrite=True)
        plt.close(fig)


def _floats(values):
    """Floats and scalar tensors as floats; the tensors are copied to the host in one transfer per device."""
    return [record[0] for record in host_values([{0: value} for value in values])]
