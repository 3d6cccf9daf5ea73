"""Key conversion of released mmseg-0.x checkpoints (DAFormer, HRDA, MIC) into this project's models.

What differs from this project's layout (reference/ORIGINALS.md section 5):

* a MiT backbone uses the original SegFormer names (``patch_embed1.proj``, ``block1.0.attn.q`` / ``attn.kv``,
  ``mlp.fc1``, ``mlp.dwconv.dwconv``, ``norm1``), mmseg's ``MixVisionTransformer`` others
  (``layers.0.0.projection``, packed ``attn.attn.in_proj_*``, 1x1-conv ``ffn.layers.*``, ``layers.0.2``);
* MIC with a separate masked-image teacher adds ``mic.teacher.ema_model.*``, a sub-model nothing here has.

Everything else keeps its name: ResNet-V1c (``stem.*``, ``layer{i}.*``), the DAFormer head (``embed_layers``,
``fuse_layer``, ``conv_seg``), the DeepLabV2 head (``aspp_modules.{j}.conv``), the HRDA head (``head.*``,
``scale_attention.*``) and the UDA prefixes ``model.`` / ``ema_model.`` / ``imnet_model.``.
"""
from dataclasses import dataclass, field

# Sub-models of the original UDA wrappers that no model here has, with the reason printed when dropped.
DROPPED_PREFIXES = {'mic.': "MIC's separate masked-image teacher"}
# Ends the first key of every MiT backbone in the original layout, under any prefix.
_ORIGINAL_MIT_KEY = 'patch_embed1.proj.weight'


@dataclass
class Conversion:
    """The result of :func:`convert_released_state_dict`.

    Attributes:
        state_dict (dict[str, Tensor]): the weights under this project's names.
        converted (list[str]): prefixes of the MiT backbones converted from the original layout, e.g.
            ``['model.backbone.', 'ema_model.backbone.']``.
        dropped (dict[str, int]): dropped prefix -> number of keys.
    """

    state_dict: dict
    converted: list = field(default_factory=list)
    dropped: dict = field(default_factory=dict)


def _original_mit_prefixes(state_dict):
    """Prefixes such as ``'model.backbone.'`` that hold a MiT in the original SegFormer layout."""
    return [k[:-len(_ORIGINAL_MIT_KEY)] for k in state_dict
            if k.endswith('backbone.' + _ORIGINAL_MIT_KEY)]


def convert_released_state_dict(state_dict):
    """Convert a released segmentor or UDA-wrapper state dict to this project's key names.

    Works on a segmentor's keys (``backbone.*``, ``decode_head.*``) and on a whole UDA wrapper's
    (``model.*``, ``ema_model.*``, ``imnet_model.*``); a ``module.`` prefix (DataParallel) is removed. A state dict
    already in this project's layout comes back unchanged.

    Args:
        state_dict (dict[str, Tensor]): the weights as saved.

    Returns:
        Conversion: the converted weights and what was converted and dropped.

    Raises:
        UserError: a MiT backbone whose keys are incomplete or unknown (names the key).
    """
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    dropped = {}
    for prefix in DROPPED_PREFIXES:
        n = sum(k.startswith(prefix) for k in state_dict)
        if n:
            dropped[prefix] = n
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(prefix)}
    converted = _original_mit_prefixes(state_dict)
    if converted:
        # Looked up at call time so that the converter can be replaced in tests.
        from daseg.models.backbones import mit_convert
        state_dict = mit_convert.convert_segmentor_state_dict(state_dict)
    return Conversion(state_dict, converted, dropped)
