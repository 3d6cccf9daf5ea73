"""Key conversion of released mmseg-0.x checkpoints (DAFormer, HRDA, MIC) into this project's models.

What differs from this project's layout (reference/ORIGINALS.md section 5): a MiT backbone uses the original
SegFormer names (``patch_embed1.proj``, ``block1.0.attn.q`` / ``attn.kv``, ``mlp.fc1``, ``mlp.dwconv.dwconv``,
``norm1``), mmseg's ``MixVisionTransformer`` others (``layers.0.0.projection``, packed ``attn.attn.in_proj_*``,
1x1-conv ``ffn.layers.*``, ``layers.0.2``); see :mod:`daseg.weights.mit_keys`.

The original DeepLab-v2 ResNet of AdaptSegNet / union-set (top-level ``conv1``, ``bn1``, ``layer1-4``,
``layer5.conv2d_list``) is renamed to ``backbone.*`` + ``decode_head.aspp_modules.{0,1}.conv``; see
:mod:`daseg.weights.deeplab_keys`.

Everything else keeps its name: ResNet-V1c (``stem.*``, ``layer{i}.*``), the DAFormer head (``embed_layers``,
``fuse_layer``, ``conv_seg``), the DeepLabV2 head (``aspp_modules.{j}.conv``), the HRDA head (``head.*``,
``scale_attention.*``) and the UDA sub-model prefixes (``model.``, ``ema_model.``, ``imnet_model.``, MIC's
``mic.teacher.ema_model.``; see :mod:`daseg.weights.submodels`).
"""
from dataclasses import dataclass, field

from .deeplab_keys import convert_deeplab_segmentor, is_original_deeplab
from .keys import strip_module_prefix
from .mit_keys import convert_segmentor_state_dict

# Ends the first key of every MiT backbone in the original layout, under any prefix.
_ORIGINAL_MIT_KEY = 'patch_embed1.proj.weight'


@dataclass
class Conversion:
    """The result of :func:`convert_released_state_dict`.

    Attributes:
        state_dict (dict[str, Tensor]): the weights under this project's names.
        converted (list[str]): prefixes of the MiT backbones converted from the original layout, e.g.
            ``['model.backbone.', 'ema_model.backbone.']``.
        notes (list[str]): one-line remarks on other conversions for the caller to log, e.g. the original
            DeepLab-v2 classifier convs that were dropped.
    """

    state_dict: dict
    converted: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _original_mit_prefixes(state_dict):
    """Prefixes such as ``'model.backbone.'`` that hold a MiT in the original SegFormer layout."""
    return [k[:-len(_ORIGINAL_MIT_KEY)] for k in state_dict
            if k.endswith('backbone.' + _ORIGINAL_MIT_KEY)]


def convert_released_state_dict(state_dict):
    """Convert a released segmentor or UDA-wrapper state dict to this project's key names.

    Works on a segmentor's keys (``backbone.*``, ``decode_head.*``) and on a whole UDA wrapper's (every sub-model
    prefix); a ``module.`` prefix (DataParallel) is removed. A state dict already in this project's layout comes
    back unchanged.

    Args:
        state_dict (dict[str, Tensor]): the weights as saved.

    Returns:
        Conversion: the converted weights, the prefixes of the converted MiT backbones and notes.

    Raises:
        UserError: a MiT backbone whose keys are incomplete or unknown, or an original DeepLab-v2 segmentor with a
            key its table does not know (names the key).
    """
    state_dict = strip_module_prefix(state_dict)
    if is_original_deeplab(state_dict):
        state_dict, notes = convert_deeplab_segmentor(state_dict)
        return Conversion(state_dict, notes=notes)
    converted = _original_mit_prefixes(state_dict)
    if converted:
        state_dict = convert_segmentor_state_dict(state_dict)
    return Conversion(state_dict, converted)


def convert_legacy_keys(state_dict):
    """:func:`convert_released_state_dict`, returning only the converted weights."""
    return convert_released_state_dict(state_dict).state_dict
