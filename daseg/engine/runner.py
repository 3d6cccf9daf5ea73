"""mmengine's Runner with two guarantees the project needs: checkpoints are written atomically and read
with ``weights_only=True`` (a checkpoint never runs code)."""
import os
import os.path as osp

from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoint import convert_legacy_keys, load_checkpoint_file


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
        # Released DAFormer/HRDA/MIC checkpoints (mmseg 0.x key names) load like this project's own.
        state = checkpoint.get('state_dict', checkpoint)
        checkpoint = dict(checkpoint) if 'state_dict' in checkpoint else {}
        checkpoint['state_dict'] = convert_legacy_keys(state)
        _segmentor_into_uda_wrapper(model, checkpoint)
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


def _segmentor_into_uda_wrapper(model, checkpoint: dict) -> None:
    """``load_from`` a plain segmentor checkpoint (e.g. a source-only run) into a UDA wrapper: its weights
    become the student's (the teacher starts as a copy of the student at iteration 0)."""
    state = checkpoint.get('state_dict', checkpoint)
    if hasattr(model, 'ema_model') and not any(k.startswith('model.') for k in state):
        checkpoint['state_dict'] = {f'model.{k}': v for k, v in state.items()}
