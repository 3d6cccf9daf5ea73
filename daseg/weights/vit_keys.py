"""Key tables of BEiT and MAE (plain ViT) weights files, to the names of mmseg's ``BEiT`` and ``MAE``.

Layouts read (``module.`` / ``backbone.`` prefixes and ``state_dict`` / ``model`` wrappers allowed in all):

* official BEiT (microsoft/unilm: ``beit_base_patch16_224_pt22k_ft22k.pth``, ``beit_base_patch16_224_pt22k.pth``):
  ``cls_token``, ``patch_embed.proj``, ``blocks.i.{norm1, attn.q_bias, attn.v_bias, attn.qkv.weight,
  attn.relative_position_bias_table, attn.proj, norm2, mlp.fc1, mlp.fc2, gamma_1, gamma_2}``; the
  self-supervised files share one table, ``rel_pos_bias.relative_position_bias_table``, which is copied to every
  layer; ``norm`` or ``fc_norm``, ``head``, ``mask_token``, ``lm_head``.
* official MAE (``mae_pretrain_vit_base.pth``) and timm ViTs: ``cls_token``, ``pos_embed``, ``patch_embed.proj``,
  ``blocks.i.{norm1, attn.qkv (weight and bias), attn.proj, norm2, mlp.fc1, mlp.fc2}``, ``norm``: no layer scale,
  no relative position bias.
* mmseg's (``tools/model_converters/beit2mmseg.py`` output, or this module's own): ``patch_embed.projection``,
  ``layers.i.{ln1, attn.*, ln2, ffn.layers.0.0, ffn.layers.1, gamma_1, gamma_2}``.

The final ``norm`` becomes mmseg's final norm ``ln1`` (used with ``final_norm=True``, dropped otherwise). A file
without layer scale (MAE's) gets ``gamma_1 = gamma_2 = 1``, so that the converted encoder computes the file's
function (mmseg's MAE would start them at ``init_values``, 0.1). mmseg's MAE builds its attention with the full
qkv bias (``bias=True``), so MAE's q, k and v biases all load as they are; mmseg's BEiT has the q and v biases of
the BEiT files.
"""
import re

import numpy as np
import torch
from scipy.interpolate import RectBivariateSpline

from ..errors import UserError
from .encoder_keys import bare_backbone, check_blocks, renamed, require_family

_L = r'layers.\1.'
_OFFICIAL_TO_MMSEG = [(re.compile(p), r) for p, r in (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', _L + 'ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', _L + 'ln2.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', _L + 'ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', _L + 'ffn.layers.1.'),
    (r'^blocks\.(\d+)\.(attn\.(q_bias|v_bias|qkv\.\w+|proj\.\w+|relative_position_bias_table)|gamma_[12])$',
     _L + r'\2'),
    (r'^blocks\.(\d+)\.ls([12])\.gamma$', _L + r'gamma_\2'),  # timm's LayerScale (DeiT III)
)]
_FINAL_NORM = [(re.compile(r'^norm\.'), 'ln1.')]
_SHARED_TABLE = 'rel_pos_bias.relative_position_bias_table'
_BOTH = [re.compile(p) for p in (r'^(cls_token|pos_embed)$', r'^rel_pos_bias\.relative_position_bias_table$')]
_OWN = [re.compile(p) for p in (r'^patch_embed\.projection\.', r'^layers\.\d+\.', r'^ln1\.')]
_BUFFERS = re.compile(r'.*relative_position_index$')
_LAYER = re.compile(r'layers\.\d+')


def _split_vit(checkpoint, source, family):
    sd = bare_backbone(checkpoint, source)
    require_family(sd, family, source)
    dropped = [k for k in sd if _BUFFERS.match(k)]
    sd = {k: v for k, v in sd.items() if not _BUFFERS.match(k)}
    if any(k.startswith('blocks.') for k in sd):
        sd, left = renamed(sd, _OFFICIAL_TO_MMSEG + _FINAL_NORM, keep=_BOTH)
    else:
        sd, left = renamed(sd, _FINAL_NORM, keep=_BOTH + _OWN)
    layers = sorted({int(k.split('.')[1]) for k in sd if _LAYER.match(k)})
    if _SHARED_TABLE in sd:  # one table for all layers (BEiT's self-supervised pre-training)
        table = sd.pop(_SHARED_TABLE)
        for i in layers:
            sd.setdefault(f'layers.{i}.attn.relative_position_bias_table', table.clone())
    for i in layers:  # no layer scale in the file: identity scales compute its function
        norm = sd.get(f'layers.{i}.ln1.weight')
        for gamma in ('gamma_1', 'gamma_2'):
            if norm is not None and f'layers.{i}.{gamma}' not in sd:
                sd[f'layers.{i}.{gamma}'] = torch.ones_like(norm)
    check_blocks(sd, _LAYER, source)
    return sd, left + dropped


def split_beit_checkpoint(checkpoint, source='weights'):
    """The BEiT backbone weights inside a loaded checkpoint (mmseg's names), and the keys left out.

    Args:
        checkpoint (dict): what ``torch.load`` returned, in a layout of the module docstring.
        source (str): name of the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: weights for mmseg's ``BEiT``, and the file's keys that are not part
        of the backbone (classifier, pre-training heads, buffers), as the file names them.

    Raises:
        UserError: the file holds another family (one line naming it) or a layer lacks tensors.
    """
    return _split_vit(checkpoint, source, 'beit')


def split_mae_checkpoint(checkpoint, source='weights'):
    """The MAE / ViT backbone weights inside a loaded checkpoint (mmseg's names), and the keys left out; as
    :func:`split_beit_checkpoint`, for mmseg's ``MAE``."""
    return _split_vit(checkpoint, source, 'mae')


def beit_state_dict(checkpoint, source='weights'):
    """Weights for mmseg's ``BEiT`` from a loaded checkpoint (see :func:`split_beit_checkpoint`)."""
    return split_beit_checkpoint(checkpoint, source)[0]


def mae_state_dict(checkpoint, source='weights'):
    """Weights for mmseg's ``MAE`` from a loaded checkpoint (see :func:`split_mae_checkpoint`)."""
    return split_mae_checkpoint(checkpoint, source)[0]


def geometric_resize(table, src_size, dst_size):
    """A relative position bias table on a ``src_size`` x ``src_size`` grid of offsets resized to ``dst_size``,
    on BEiT's geometric grid: the source offsets 1, 2, ... are placed at 1, 1 + q, 1 + q + q^2, ... with q such
    that the largest lands on the largest target offset, so the centre keeps its resolution; cubic splines
    through them are read at the integer target offsets.

    Args:
        table (Tensor): [src_size^2, heads], offsets (row, column) in raster order; src_size odd (2w - 1).
        src_size (int): side of the source grid.
        dst_size (int): side of the target grid, odd.

    Returns:
        Tensor: [dst_size^2, heads], dtype and device of ``table``.
    """
    if src_size % 2 == 0 or dst_size % 2 == 0:
        raise UserError(f'relative position tables of {src_size}^2 / {dst_size}^2 offsets: expected odd sides '
                        '(2 * window - 1)')
    half, target = src_size // 2, dst_size // 2
    low, high = 1.01, 1.5
    while high - low > 1e-6:  # bisection: 1 + q + ... + q^(half - 1) = target
        q = (low + high) / 2
        if (q ** half - 1) / (q - 1) > target:
            high = q
        else:
            low = q
    steps = np.cumsum(q ** np.arange(half))
    source = np.concatenate([-steps[::-1], [0.0], steps])
    wanted = np.arange(-target, target + 1, dtype=np.float64)
    grids = table.detach().float().cpu().numpy().reshape(src_size, src_size, -1)
    heads = [RectBivariateSpline(source, source, grids[..., h])(wanted, wanted) for h in range(grids.shape[-1])]
    return torch.from_numpy(np.stack(heads, -1).reshape(dst_size * dst_size, -1)).to(table)
