"""mmengine's CheckpointHook with the order of a safe save: new checkpoint complete, then ``last_checkpoint``,
then the old checkpoints removed.

mmengine removes the checkpoint that ``max_keep_ckpts`` no longer keeps *before* writing the new one, so with
``max_keep_ckpts=1`` a kill during the save leaves no checkpoint at all, and ``last_checkpoint`` names the deleted
file. Here a kill at any point leaves at least the previous complete checkpoint (the runner writes each one under
a temporary name, flushes and renames it). :class:`~daseg.engine.runner.DasegRunner` uses this hook in place of
``CheckpointHook``.
"""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...atomic import atomic_write_text
from ..log_summaries import FILE_CLIENT_NOTICES, dropped_records


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) that removes outdated checkpoints only after the new one is saved."""

    def before_train(self, runner) -> None:
        with dropped_records(*FILE_CLIENT_NOTICES):
            super().before_train(runner)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        # Same bookkeeping as CheckpointHook (one step may be saved twice: interval and end of training).
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                               backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt, overwrite=True)
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
