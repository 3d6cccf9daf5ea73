"""mmengine's Runner with the guarantees the project needs: checkpoints are written atomically and read
with ``weights_only=True`` (a checkpoint never runs code); UDA wrappers train on several GPUs through
:class:`~daseg.engine.uda_parallel.UDADistributedWrapper`; log variables reach the host in batches
(:class:`~daseg.engine.hooks.DeferredRuntimeInfoHook`); optimiser parameter groups with equal settings are merged
(:mod:`daseg.engine.param_groups`); the config's ``speed`` options are applied; and the ``deterministic`` option
works on a GPU."""
import os
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoint import convert_legacy_keys, load_checkpoint_file
from ..errors import UserError
from .param_groups import with_merged_groups
from .speed import apply_speed_options
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

    def register_default_hooks(self, hooks=None) -> None:
        hooks = dict(hooks or {})
        hooks.setdefault('runtime_info', dict(type='DeferredRuntimeInfoHook'))
        super().register_default_hooks(hooks)

    def build_optim_wrapper(self, optim_wrapper):
        if isinstance(optim_wrapper, dict) and 'optimizer' in optim_wrapper:
            optim_wrapper = with_merged_groups(optim_wrapper)
        return super().build_optim_wrapper(optim_wrapper)

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
        # Write under a hidden temporary name first: an interrupted save never leaves a truncated
        # ``iter_N.pth`` that a later ``--resume`` or test.sh would pick up.
        tmp = f'.{filename}.part'
        super().save_checkpoint(out_dir, tmp, *args, **kwargs)
        if is_main_process():  # the only process that writes
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


def _is_uda_wrapper(model) -> bool:
    """Whether the model is a self-training wrapper with its own multi-pass ``train_step`` (student + teacher)."""
    return hasattr(model, 'ema_model') and callable(getattr(model, 'train_step', None))
