"""mmengine's Runner with the guarantees the project needs: checkpoints are written atomically (flushed,
renamed, the old one removed only afterwards: :class:`~daseg.engine.hooks.SafeCheckpointHook`) and read with
``weights_only=True`` (a checkpoint never runs code); ``load_from`` is strict (:mod:`daseg.weights.fit`); UDA
wrappers train on several GPUs through :class:`~daseg.engine.uda_parallel.UDADistributedWrapper`; log variables
reach the host in batches (:class:`~daseg.engine.hooks.DeferredRuntimeInfoHook`); optimiser parameter groups with
equal settings are merged (:mod:`daseg.engine.param_groups`); the config's ``speed`` options are applied; and the
``deterministic`` option works on a GPU. The log holds summaries where mmengine dumps per-tensor and per-hook
lines (:mod:`daseg.engine.log_summaries`); the config is in the work dir, not repeated in the log."""
import os
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner

from ..atomic import fsync_folder, write_error
from ..errors import UserError
from ..weights import convert_legacy_keys, load_checkpoint_file
from ..weights.fit import fit_checkpoint
from ..weights.keys import listed
from .log_summaries import FILE_CLIENT_NOTICES, dropped_records, hooks_summary, init_summary
from .param_groups import with_merged_groups
from .speed import apply_speed_options
from .tracking import vis_backends_list
from .training_classes import check_training_classes
from .uda_parallel import UDADistributedWrapper


@RUNNERS.register_module()
class DasegRunner(Runner):
    """Runner whose checkpoints are atomic on disk and safe to load, and which trains UDA wrappers on several
    GPUs (see the module docstring)."""

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and self.launcher == 'pytorch' and not torch.cuda.is_available() \
                and not torch.distributed.is_initialized():
            # mmengine's launcher starts with torch.cuda.set_device; without GPUs (tests, debugging) the
            # processes that torchrun started talk through gloo instead.
            torch.distributed.init_process_group(backend='gloo')
        super().setup_env(env_cfg)

    def set_randomness(self, seed, diff_rank_seed: bool = False, deterministic: bool = False) -> None:
        if deterministic:
            # cuBLAS is deterministic only with a fixed workspace; it must be set before its first use.
            os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        super().set_randomness(seed, diff_rank_seed, deterministic)
        if deterministic:
            # mmengine asks torch to raise on every op without a deterministic CUDA kernel, which includes the
            # backward pass of bilinear interpolation and the NLL loss: every segmentor here would stop at its
            # first step. Those ops now warn once instead; all the others run deterministically.
            torch.use_deterministic_algorithms(True, warn_only=True)

    def _log_env(self, env_cfg: dict) -> None:
        with dropped_records('Config:\n'):
            super()._log_env(env_cfg)
        name = osp.basename(self.cfg.filename) if self.cfg.filename else f'{self.timestamp}.py'
        self.logger.info(f'config: {osp.join(self.work_dir, name)}')

    def get_hooks_info(self) -> str:
        return hooks_summary(self.hooks)

    def _init_model_weights(self) -> None:
        model = self.model.module if hasattr(self.model, 'module') else self.model
        # mmengine writes three lines per tensor into the log file; one line of counts says as much.
        model._dump_init_info = lambda: self.logger.info(init_summary(model))
        try:
            super()._init_model_weights()
        finally:
            del model._dump_init_info

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        custom_hooks = list(custom_hooks or [])
        interval = self.cfg.get('debug_img_interval')
        if interval:  # the originals' uda.debug_img_interval
            custom_hooks.append(dict(type='DebugImageHook', interval=interval))
        super().register_hooks(default_hooks, custom_hooks)

    def register_default_hooks(self, hooks=None) -> None:
        hooks = dict(hooks or {})
        hooks.setdefault('runtime_info', dict(type='DeferredRuntimeInfoHook'))
        # mmengine's CheckpointHook deletes the old checkpoint before writing the new one; see SafeCheckpointHook.
        checkpoint = hooks.get('checkpoint', dict(type='CheckpointHook', interval=1))
        if isinstance(checkpoint, dict) and checkpoint.get('type') in ('CheckpointHook', CheckpointHook):
            hooks['checkpoint'] = {**checkpoint, 'type': 'SafeCheckpointHook'}
        super().register_default_hooks(hooks)

    def build_train_loop(self, loop):
        loop = super().build_train_loop(loop)
        check_training_classes(self.model.module if hasattr(self.model, 'module') else self.model,
                               loop.dataloader.dataset)
        return loop

    def build_optim_wrapper(self, optim_wrapper):
        if isinstance(optim_wrapper, dict) and 'optimizer' in optim_wrapper:
            optim_wrapper = with_merged_groups(optim_wrapper)
        return super().build_optim_wrapper(optim_wrapper)

    def build_visualizer(self, visualizer=None):
        if isinstance(visualizer, dict) and 'vis_backends' in visualizer:
            visualizer = dict(visualizer, vis_backends=vis_backends_list(visualizer))
        return super().build_visualizer(visualizer)

    def build_model(self, model):
        model = super().build_model(model)
        return apply_speed_options(model, **dict(self.cfg.get('speed') or {}))

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and _is_uda_wrapper(model):
            cfg = dict(model_wrapper_cfg or {})
            wrapper = cfg.setdefault('type', 'UDADistributedWrapper')
            wrapper = MODEL_WRAPPERS.get(wrapper) if isinstance(wrapper, str) else wrapper
            if not (isinstance(wrapper, type) and issubclass(wrapper, UDADistributedWrapper)):
                raise UserError(f'model_wrapper_cfg.type={cfg["type"]!r} cannot train {type(model).__name__}: its '
                                'train_step would be bypassed; remove model_wrapper_cfg (UDADistributedWrapper is '
                                'used)')
            model_wrapper_cfg = cfg
        return super().wrap_model(model_wrapper_cfg, model)

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        # Written under a hidden temporary name, flushed to disk, then renamed: an interrupted save never
        # leaves a truncated ``iter_N.pth`` that a later ``--resume`` or test.sh would pick up, and a failed one
        # (disk full) leaves nothing behind.
        tmp, path = osp.join(out_dir, f'.{filename}.part'), osp.join(out_dir, filename)
        try:
            with dropped_records(*FILE_CLIENT_NOTICES):
                super().save_checkpoint(out_dir, osp.basename(tmp), *args, **kwargs)
            if is_main_process():  # the only process that writes
                with open(tmp, 'rb') as f:
                    os.fsync(f.fileno())
                os.replace(tmp, path)
                fsync_folder(out_dir)
        except BaseException as exc:
            if is_main_process() and osp.lexists(tmp):
                os.remove(tmp)
            if isinstance(exc, OSError):
                raise write_error(path, exc) from None
            raise

    def resume(self, filename, *args, **kwargs):
        # A resumed run continues its own model: load_from_part does not apply.
        self._resuming = True
        try:
            return super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self, filename, map_location='cpu', strict=False,
                        revise_keys=[(r'^module\.', '')]):  # noqa: B006 (mmengine's signature)
        """Load ``filename`` strictly (see :func:`daseg.weights.fit.fit_checkpoint`); ``strict`` and
        ``revise_keys`` are mmengine's and ignored: nothing that does not fit is loaded silently."""
        checkpoint = load_checkpoint_file(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if hasattr(self.model, 'module') else self.model
        state = checkpoint['state_dict'] if isinstance(checkpoint.get('state_dict'), dict) else checkpoint
        if not state or not all(torch.is_tensor(v) for v in state.values()):
            raise UserError(f'{filename} holds no state_dict of tensors; top-level keys: {listed(checkpoint, 5)}')
        # Released DAFormer/HRDA/MIC checkpoints (mmseg 0.x key names) load like this project's own.
        part = None if getattr(self, '_resuming', False) else self.cfg.get('load_from_part')
        fit = fit_checkpoint(model, convert_legacy_keys(state), filename, part=part)
        for note in fit.notes:
            self.logger.info(note)
        model.load_state_dict(fit.state_dict, strict=False)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint


def _is_uda_wrapper(model) -> bool:
    """Whether the model is a self-training wrapper (it declares its sub-models) with its own ``train_step``."""
    return callable(getattr(model, 'sub_models', None)) and callable(getattr(model, 'train_step', None))
