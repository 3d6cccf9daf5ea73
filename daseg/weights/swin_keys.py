"""Key table of Swin Transformer weights files, to the names of mmseg's ``SwinTransformer``.

Layouts read (``module.`` / ``backbone.`` prefixes and ``state_dict`` / ``model`` wrappers allowed in both):

* the official Microsoft release (``swin_base_patch4_window7_224_22k.pth``...): ``{'model': ...}`` with
  ``patch_embed.proj`` / ``.norm``, ``layers.i.blocks.j.{norm1, attn.qkv, attn.proj,
  attn.relative_position_bias_table, norm2, mlp.fc1, mlp.fc2}``, ``layers.i.downsample.{reduction, norm}``, the
  final ``norm``, the classifier ``head`` and the buffers ``relative_position_index`` / ``attn_mask``;
* mmseg's (``tools/model_converters/swin2mmseg.py`` output, a Swin segmentor, or this module's own output):
  ``patch_embed.projection``, ``stages.i.blocks.j.attn.w_msa.*``, ``ffn.layers.0.0`` / ``ffn.layers.1``,
  ``stages.i.downsample.*``.

The final ``norm`` (on the last stage's tokens before pooling) becomes the last stage's output norm ``norm{3}``;
the other output norms ``norm0..norm2`` exist only in the segmentation backbone. The classifier and the buffers
(which the model computes for its own window) are dropped.
"""
import math
import re

import torch.nn.functional as F

from ..errors import UserError
from .encoder_keys import bare_backbone, check_blocks, renamed, require_family

_BLOCK = r'stages.\1.blocks.\2.'
_OFFICIAL_TO_MMSEG = [(re.compile(p), r) for p, r in (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.(qkv|proj)\.', _BLOCK + r'attn.w_msa.\3.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$',
     _BLOCK + 'attn.w_msa.relative_position_bias_table'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.', _BLOCK + 'ffn.layers.0.0.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.', _BLOCK + 'ffn.layers.1.'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.(norm[12])\.', _BLOCK + r'\3.'),
    (r'^layers\.(\d+)\.downsample\.(reduction|norm)\.', r'stages.\1.downsample.\2.'),
)]
_OWN = [re.compile(p) for p in (r'^patch_embed\.(projection|norm)\.', r'^absolute_pos_embed$', r'^stages\.\d+\.',
                                r'^norm\d*\.')]
# Kept under their name in both layouts.
_SHARED = [re.compile(p) for p in (r'^patch_embed\.norm\.', r'^absolute_pos_embed$', r'^norm\.')]
# Buffers: computed by the model for its own window and image size.
_BUFFERS = re.compile(r'.*\.(relative_position_index|attn_mask)$')
_BLOCK_PREFIX = re.compile(r'stages\.\d+\.blocks\.\d+')
OFFICIAL_MARKER = re.compile(r'^layers\.\d+\.blocks\.\d+\.attn\.qkv\.weight$')

# The official PatchMerging concatenates the 2x2 neighbours (row, column) (0,0), (1,0), (0,1), (1,1), C channels
# each; mmseg's unfolds them (nn.Unfold) channel by channel in raster order (0,0), (0,1), (1,0), (1,1): its input
# feature c * 4 + k is the official feature OFFICIAL_SLOT[k] * C + c.
OFFICIAL_SLOT = (0, 2, 1, 3)


def to_unfold_order(tensor):
    """A reduction weight [out, 4C] or norm vector [4C] of the official PatchMerging in mmseg's input order."""
    *lead, four_c = tensor.shape
    grouped = tensor.reshape(*lead, 4, four_c // 4)[..., OFFICIAL_SLOT, :]
    return grouped.transpose(-1, -2).reshape(tensor.shape).contiguous()


def split_swin_checkpoint(checkpoint, source='weights'):
    """The Swin backbone weights inside a loaded checkpoint, and the keys left out.

    Args:
        checkpoint (dict): what ``torch.load`` returned, in either layout of the module docstring.
        source (str): name of the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: weights under mmseg's names, and the file's keys that are not part of
        the backbone (classifier, buffers), as the file names them.

    Raises:
        UserError: the file holds another family (one line naming it) or a block lacks tensors.
    """
    sd = bare_backbone(checkpoint, source)
    require_family(sd, 'swin', source)
    dropped = [k for k in sd if _BUFFERS.match(k)]
    sd = {k: v for k, v in sd.items() if not _BUFFERS.match(k)}
    official = any(OFFICIAL_MARKER.match(k) for k in sd)
    if official:
        sd, left = renamed(sd, _OFFICIAL_TO_MMSEG, keep=_SHARED)
        for key in [k for k in sd if re.fullmatch(r'stages\.\d+\.downsample\.(reduction|norm)\.\w+', k)]:
            sd[key] = to_unfold_order(sd[key])
    else:
        sd, left = renamed(sd, (), keep=_OWN)
    last = max(int(k.split('.')[1]) for k in sd if k.startswith('stages.'))
    if not any(k.startswith(f'norm{last}.') for k in sd):  # the classifier's final norm: the last stage's output
        sd = {re.sub(r'^norm\.', f'norm{last}.', k): v for k, v in sd.items()}
    check_blocks(sd, _BLOCK_PREFIX, source)
    return sd, left + dropped


def swin_state_dict(checkpoint, source='weights'):
    """The Swin backbone weights of a loaded checkpoint, under mmseg's names (see :func:`split_swin_checkpoint`).

    Returns:
        dict[str, Tensor]: weights for mmseg's ``SwinTransformer``.
    """
    return split_swin_checkpoint(checkpoint, source)[0]


def expected_absent(key, last_stage=3):
    """Whether a key of mmseg's SwinTransformer is one a classification file never holds: the buffers and the
    output norms of the stages before the last (``norm0..norm2`` of four stages, which keep ones / zeros)."""
    match = re.match(r'norm(\d+)\.', key)
    return bool(_BUFFERS.match(key)) or bool(match and int(match[1]) < last_stage)


def resize_table(table, size):
    """A relative position bias table [(2w-1)^2, heads] resized to [size^2, heads], bicubic (as mmseg's
    ``SwinTransformer.init_weights`` and the official fine-tuning at 384 do)."""
    side, heads = math.isqrt(table.shape[0]), table.shape[1]
    grid = table.T.reshape(1, heads, side, side)
    return F.interpolate(grid, size=(size, size), mode='bicubic').reshape(heads, -1).T.contiguous()


def resize_abs_pos_embed(embed, grid):
    """An absolute position embedding [1, h*w, C] (square grid) resized to ``grid`` = (rows, cols), bicubic."""
    side = math.isqrt(embed.shape[1])
    if side * side != embed.shape[1]:
        raise UserError(f'absolute_pos_embed of {embed.shape[1]} positions is not a square grid')
    image = embed.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    return F.interpolate(image, size=grid, mode='bicubic').flatten(2).transpose(1, 2).contiguous()


def resize_to(sd, own, grid):
    """Relative position tables and the absolute position embedding of ``sd`` resized to the model's shapes.

    Args:
        sd (dict[str, Tensor]): mmseg-layout Swin weights.
        own (dict[str, Tensor]): the model's state dict.
        grid (tuple[int, int]): the model's patch grid at its pre-training image size (for the absolute
            position embedding).

    Returns:
        dict[str, Tensor]: a new dict; tensors of other heads / widths are left for the shape check.
    """
    out = dict(sd)
    for key, value in sd.items():
        if key not in own or value.shape == own[key].shape or value.shape[-1] != own[key].shape[-1]:
            continue
        if key.endswith('relative_position_bias_table'):
            out[key] = resize_table(value, math.isqrt(own[key].shape[0]))
        elif key == 'absolute_pos_embed':
            out[key] = resize_abs_pos_embed(value, grid)
    return out
