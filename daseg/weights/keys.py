"""Key handling shared by every weights file: the ``module.`` prefix, unwrapping and the key/shape check."""
import torch

from ..errors import UserError

# DataParallel / DistributedDataParallel wrap every key in it.
MODULE_PREFIX = 'module.'


def strip_module_prefix(state_dict):
    """The state dict with a leading ``module.`` removed from every key that has one."""
    return {k[len(MODULE_PREFIX):] if k.startswith(MODULE_PREFIX) else k: v for k, v in state_dict.items()}


def unwrap_state_dict(checkpoint, source='weights'):
    """The dict of tensors inside a loaded checkpoint: a raw state dict, or one under ``state_dict`` / ``model``.

    Args:
        checkpoint (dict): the loaded object.
        source (str): name of the file, for messages.

    Returns:
        dict[str, Tensor]: the weights with any ``module.`` prefix removed.
    """
    sd = checkpoint
    for wrapper in ('state_dict', 'model'):
        if isinstance(sd, dict) and isinstance(sd.get(wrapper), dict):
            sd = sd[wrapper]
    if not isinstance(sd, dict) or not sd or not all(torch.is_tensor(v) for v in sd.values()):
        top = list(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise UserError(f'{source} holds no state dict of tensors; top-level keys: {top}')
    return strip_module_prefix(sd)


def listed(keys, n=3):
    """The first ``n`` keys joined, with ``...`` when there are more."""
    keys = list(keys)
    return ', '.join(keys[:n]) + (', ...' if len(keys) > n else '')


def check_fits(own, state_dict, what, optional_suffix=None):
    """Refuse weights whose keys or shapes differ from a model's.

    Args:
        own (dict[str, Tensor]): the model's state dict.
        state_dict (dict[str, Tensor]): the weights to load.
        what (str): start of the message, e.g. ``'a.pth does not fit the model'``.
        optional_suffix (str | None): model keys ending with it may be absent (e.g. ``'num_batches_tracked'``).

    Raises:
        UserError: ``<what>: N missing keys (...), M unexpected keys (...)`` or ``<what>: <key> has shape ...``.
    """
    # A shape difference first: it tells another variant (e.g. MiT-B0 for B5) better than the keys it lacks.
    for key, value in state_dict.items():
        if key in own and value.shape != own[key].shape:
            raise UserError(f'{what}: {key} has shape {tuple(value.shape)} in the checkpoint, '
                            f'{tuple(own[key].shape)} in the model')
    missing = [k for k in own if k not in state_dict and not (optional_suffix and k.endswith(optional_suffix))]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise UserError(f'{what}: {len(missing)} missing keys ({listed(missing) or "none"}), '
                        f'{len(unexpected)} unexpected keys ({listed(unexpected) or "none"})')
