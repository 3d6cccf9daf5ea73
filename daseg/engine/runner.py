"""mmengine's Runner with two guarantees the project needs: checkpoints are written atomically and read
with ``weights_only=True`` (a checkpoint never runs code)."""
import os
import os.path as osp

from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoint import load_checkpoint_file


@RUNNERS.register_module()
class DasegRunner(Runner):
    """Runner whose checkpoints are atomic on disk and safe to load."""

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        # Write under a hidden temporary name first: an interrupted save never leaves a truncated
        # ``iter_N.pth`` that a later ``--resume`` or test.sh would pick up.
        tmp = f'.{filename}.part'
        super().save_checkpoint(out_dir, tmp, *args, **kwargs)
        os.replace(osp.join(out_dir, tmp), osp.join(out_dir, filename))

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module\.', '')]):  # noqa: B006 (mmengine's signature)
        checkpoint = load_checkpoint_file(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if hasattr(self.model, 'module') else self.model
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
