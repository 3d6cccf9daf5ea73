"""The weights of one source model of a union-set experiment inside a checkpoint file.

A union-set model (:mod:`daseg.models.unionset`) holds one branch (backbone + DeepLab classifier) per source under
``branches.<source>.``. A branch starts from any file that holds that source's model: a checkpoint of this
project's union-set stages (``branches.<source>.*``), a plain segmentor (``backbone.*``, ``decode_head.*``), or
the original's per-source checkpoint ``{source}_{iter}.pth`` (``conv1``, ``layer1..4``, ``layer5.conv2d_list.*``,
converted by :func:`convert_released_state_dict`).
"""
from ..errors import UserError
from .io import load_checkpoint_file
from .keys import listed, unwrap_state_dict
from .released import convert_released_state_dict

BRANCHES_PREFIX = 'branches.'
_SEGMENTOR_PARTS = ('backbone.', 'decode_head.')


def branch_state_dict(checkpoint, source, path):
    """A source's branch weights (``backbone.*``, ``decode_head.*``) and the notes of their conversion.

    Args:
        checkpoint (dict): the loaded file.
        source (str): the source whose branch is wanted, e.g. ``'gta'``.
        path (str): the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: the weights, and what the conversion reports (dropped tensors).

    Raises:
        UserError: the file holds other sources' branches only, or no segmentor.
    """
    sd = unwrap_state_dict(checkpoint, path)
    if any(k.startswith(BRANCHES_PREFIX) for k in sd):
        prefix = f'{BRANCHES_PREFIX}{source}.'
        found = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not found:
            held = sorted({k.split('.')[1] for k in sd if k.startswith(BRANCHES_PREFIX)})
            raise UserError(f'{path} holds no {source} model (its union-set branches: {", ".join(held)})')
        return found, []
    conversion = convert_released_state_dict(sd)
    found = {k: v for k, v in conversion.state_dict.items() if k.startswith(_SEGMENTOR_PARTS)}
    if not found:
        raise UserError(f'{path} holds no segmentor weights (backbone.*, decode_head.*, or the original DeepLab '
                        f'conv1/layer1..5); first keys: {listed(sd)}')
    return found, list(conversion.notes)


def read_branch(path, source):
    """:func:`branch_state_dict` of a file read weights-only."""
    return branch_state_dict(load_checkpoint_file(path), source, path)
