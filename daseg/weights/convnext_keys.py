"""Key table of ConvNeXt weights files (Liu et al., "A ConvNet for the 2020s"), to the names of
:class:`daseg.models.backbones.ConvNeXt`, which are mmcls/mmpretrain's.

Layouts read (``module.`` prefix and ``state_dict`` / ``model`` wrappers allowed in every one):

* mmcls / mmpretrain (``convnext-base_3rdparty_32xb128-noema_in1k_20220301-2a0ee547.pth``): ``backbone.`` prefix,
  the model's own names, the classifier ``head.fc.*`` dropped. A whole segmentor checkpoint reads the same way:
  everything outside ``backbone.`` is dropped.
* the official facebookresearch release (``convnext_base_1k_224.pth``, ``convnext_large_22k_224.pth``...):
  ``{'model': ...}`` with ``stages.i.j.dwconv`` / ``pwconv1`` / ``pwconv2`` for ``depthwise_conv`` /
  ``pointwise_conv1`` / ``pointwise_conv2``; its final ``norm`` (applied to the pooled features of the last stage)
  becomes the last stage's output norm, as mmcls converts it; the classifier ``head.*`` is dropped.
* already converted: the model's names without prefix.

Shared by all: the stem ``downsample_layers.0.0`` (4x4 conv) and ``.0.1`` (LayerNorm), the downsampling layers
``downsample_layers.{i}.0`` (LayerNorm) and ``.1`` (2x2 conv), the blocks' ``norm`` and layer scale ``gamma``.
"""
import re

from ..errors import UserError
from .keys import check_fits, listed, unwrap_state_dict

BACKBONE_PREFIX = 'backbone.'
# The stem convolution: every ConvNeXt layout has it under this name.
STEM_KEY = 'downsample_layers.0.0.weight'
# Official block layer names -> mmcls / mmpretrain names.
_OFFICIAL_TO_MMCLS = {'dwconv': 'depthwise_conv', 'pwconv1': 'pointwise_conv1', 'pwconv2': 'pointwise_conv2'}
# Classification heads: ``head.fc.*`` (mmcls), ``head.*`` (official).
_HEAD_PREFIX = 'head.'
# The official final norm, on the pooled features of the last stage.
_FINAL_NORM = re.compile(r'norm\.(weight|bias)')
_OUTPUT_NORM = re.compile(r'norm(\d+)\.(weight|bias)')
_OWN_KEYS = (
    re.compile(r'downsample_layers\.\d+\.[01]\.(weight|bias)'),
    re.compile(r'stages\.\d+\.\d+\.(depthwise_conv|norm|pointwise_conv1|pointwise_conv2)\.(weight|bias)'),
    re.compile(r'stages\.\d+\.\d+\.gamma'),
    _OUTPUT_NORM,
)
_OFFICIAL_BLOCK = re.compile(r'(stages\.\d+\.\d+)\.(dwconv|pwconv1|pwconv2)\.(weight|bias)')
_DOWNSAMPLE = re.compile(r'downsample_layers\.(\d+)\.')


def _num_stages(keys):
    """One more than the highest ``downsample_layers`` index (the stem is index 0)."""
    return 1 + max(int(m[1]) for k in keys if (m := _DOWNSAMPLE.match(k)))


def split_convnext_checkpoint(checkpoint, source='weights'):
    """The backbone weights inside a loaded ConvNeXt checkpoint, and the keys left out.

    Args:
        checkpoint (dict): what ``torch.load`` returned, in any layout of the module docstring.
        source (str): name of the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: the weights under the model's names, and the file's keys that are
        not part of the backbone (classifier, a segmentor's head), as the file names them.

    Raises:
        UserError: the file holds no ConvNeXt (no stem convolution), a ConvNeXt V2 (GRN layers) or keys that no
            ConvNeXt layout has.
    """
    sd = unwrap_state_dict(checkpoint, source)
    dropped, prefix = [], ''
    if any(k.startswith(BACKBONE_PREFIX) for k in sd):
        prefix = BACKBONE_PREFIX
        dropped = [k for k in sd if not k.startswith(BACKBONE_PREFIX)]
        sd = {k[len(BACKBONE_PREFIX):]: v for k, v in sd.items() if k.startswith(BACKBONE_PREFIX)}
    if STEM_KEY not in sd:
        raise UserError(f'{source} holds no ConvNeXt weights: there is no {STEM_KEY} (the stem convolution); '
                        f'its keys start with {listed(sd)}')
    if any('.grn.' in k for k in sd):
        raise UserError(f'{source} holds ConvNeXt V2 weights (GRN layers, e.g. '
                        f'{next(k for k in sd if ".grn." in k)}); only ConvNeXt (V1) is supported')
    last_norm = f'norm{_num_stages(sd) - 1}'
    out, unknown = {}, []
    for key, value in sd.items():
        if key.startswith(_HEAD_PREFIX):
            dropped.append(prefix + key)
            continue
        if m := _OFFICIAL_BLOCK.fullmatch(key):
            name = f'{m[1]}.{_OFFICIAL_TO_MMCLS[m[2]]}.{m[3]}'
        elif m := _FINAL_NORM.fullmatch(key):
            name = f'{last_norm}.{m[1]}'
        elif any(pattern.fullmatch(key) for pattern in _OWN_KEYS):
            name = key
        else:
            unknown.append(prefix + key)
            continue
        if name in out:
            raise UserError(f'{source} holds {name} twice (as {key} and under its own name)')
        out[name] = value
    if unknown:
        raise UserError(f'{source}: {len(unknown)} keys that no ConvNeXt layout has ({listed(unknown)})')
    return out, dropped


def convnext_state_dict(checkpoint, source='weights'):
    """The backbone weights inside a loaded ConvNeXt checkpoint, under the model's (mmcls) names.

    Args:
        checkpoint (dict): a raw state dict, or one under ``state_dict`` / ``model``, in the mmcls/mmpretrain,
            official or converted layout (module docstring); keys may carry a ``module.`` prefix.
        source (str): name of the file, for messages.

    Returns:
        dict[str, Tensor]: weights named as in ``ConvNeXt``; classifier and other non-backbone keys dropped.
    """
    return split_convnext_checkpoint(checkpoint, source)[0]


def fit_convnext_weights(own, state_dict, what):
    """Check ConvNeXt weights against a model's state dict, allowing what classification files lack.

    A classification file holds one output norm, that of the last stage; the model's other output norms
    (``norm0`` .. ``norm2`` for four stages) keep their initialisation. Output norms the file has and the model
    does not (a stage not in ``out_indices``) are left out. Any other missing key, unexpected key or shape
    difference is refused.

    Args:
        own (dict[str, Tensor]): the model's state dict.
        state_dict (dict[str, Tensor]): converted weights (:func:`convnext_state_dict`).
        what (str): start of the message, e.g. ``'a.pth does not fit ConvNeXt-base'``.

    Returns:
        tuple[list[str], list[str]]: the model keys initialised, not loaded, and the file keys left out.

    Raises:
        UserError: one line naming the key (shape) or the missing / unexpected keys.
    """
    last = _num_stages(own) - 1

    def is_norm_before_last(key):
        m = _OUTPUT_NORM.fullmatch(key)
        return m is not None and int(m[1]) < last

    initialised = [k for k in own if k not in state_dict and is_norm_before_last(k)]
    unused = [k for k in state_dict if k not in own and _OUTPUT_NORM.fullmatch(k)]
    check_fits({k: v for k, v in own.items() if k not in initialised},
               {k: v for k, v in state_dict.items() if k not in unused}, what)
    return initialised, unused
