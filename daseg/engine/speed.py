"""The optional speed settings of training and benchmarking, applied to a config or to a built model.

=====================  ==============================================================================
option                  effect
=====================  ==============================================================================
``amp``                 ``'bf16'`` / ``'fp16'``: forward passes under autocast (fp16 with loss scaling),
                        see :mod:`daseg.engine.amp`
``channels_last``       4-D weights and the input images in NHWC layout (cuDNN's preferred layout for
                        convolutions in reduced precision)
``compile``             ``torch.compile`` of the tensor work of the whole training step (every component's
                        forward and loss, the teachers' pseudo-labels, ClassMix), static shapes, in place,
                        so checkpoints keep their keys, see :mod:`daseg.engine.compile_step`; a dict is
                        passed to ``torch.compile`` (e.g. ``dict(mode='reduce-overhead')``: CUDA graphs)
``checkpoint_blocks``   activation checkpointing of the MiT blocks (``backbone.with_cp``): less memory,
                        about one more backbone forward pass per step
``tf32``                TF32 tensor cores for the float32 matmuls and convolutions (CUDA; a process-wide
                        torch setting)
=====================  ==============================================================================

A config carries ``channels_last``, ``compile`` and ``tf32`` as ``speed = dict(channels_last=..., ...)``,
which the runner applies after building the model; ``amp`` and ``checkpoint_blocks`` change the config itself.
"""
import torch

from ..errors import UserError
from .amp import with_amp
from .compile_step import check_compile_options, compile_step


def configure_speed(cfg, amp: str = 'none', channels_last: bool = False, compile=False,
                    checkpoint_blocks: bool = False, tf32: bool = False):
    """Write the speed options into an experiment config (in place).

    Args:
        cfg (mmengine.Config): the experiment config.
        amp (str): ``'bf16'``, ``'fp16'`` or ``'none'``.
        channels_last (bool): see the module docstring.
        compile (bool | dict): see the module docstring.
        checkpoint_blocks (bool): see the module docstring.
        tf32 (bool): see the module docstring.

    Returns:
        mmengine.Config: ``cfg``.
    """
    if amp != 'none':
        cfg.optim_wrapper = with_amp(cfg.optim_wrapper, amp)
    speed = dict(cfg.get('speed') or {})
    if channels_last:
        speed['channels_last'] = True
    if compile:
        check_compile_options(compile if isinstance(compile, dict) else {})
        speed['compile'] = compile
    if tf32:
        speed['tf32'] = True
    if speed:
        cfg.speed = speed
    if checkpoint_blocks:
        segmentor = cfg.model['model'] if 'model' in cfg.model else cfg.model
        backbone = segmentor.get('backbone')
        if backbone is None or backbone.get('type') != 'MiT':
            raise UserError('--checkpoint-blocks needs a MiT backbone (model.backbone.type or '
                            'model.model.backbone.type = MiT)')
        backbone['with_cp'] = True
    return cfg


def apply_speed_options(model: torch.nn.Module, channels_last: bool = False, compile=False,
                        tf32: bool = False) -> torch.nn.Module:
    """Apply ``channels_last``, ``compile`` and ``tf32`` (see the module docstring) to a built model, in place.

    Args:
        model (nn.Module): a UDA wrapper (DACS) or a segmentor.
        channels_last (bool): NHWC weights; a model with an ``input_memory_format`` attribute (DACS) also
            converts its input images.
        compile (bool | dict): ``torch.compile`` options, or True for the defaults.
        tf32 (bool): allow TF32 in float32 matmuls and cuDNN convolutions (process-wide).

    Returns:
        nn.Module: ``model``.
    """
    if not isinstance(compile, (bool, dict)):
        raise UserError(f'speed.compile must be true, false or a dict of torch.compile options, got {compile!r}')
    if tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if channels_last:
        model.to(memory_format=torch.channels_last)
        if hasattr(model, 'input_memory_format'):
            model.input_memory_format = torch.channels_last
    if compile:
        compile_step(model, **(compile if isinstance(compile, dict) else {}))
    return model
