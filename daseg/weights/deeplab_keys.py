"""Key table of the original DeepLab-v2 ResNet (AdaptSegNet's ``deeplab.py``, as union-set uses it).

Layouts read (``module.`` prefix and ``state_dict`` / ``model`` wrappers allowed):

* a segmentor of the original (union-set's per-source ``{source}_{iter}.pth``): the backbone ``conv1``, ``bn1``,
  ``layer{1-4}.{k}.{conv,bn}{1,2,3}``, ``layer{1-4}.0.downsample.{0,1}``, and the classifier
  ``layer5.conv2d_list.{0-3}.{weight,bias}``. Its forward returns inside the loop over the four rates, so only
  ``conv2d_list.0`` + ``conv2d_list.1`` (rates 6 and 12) compute anything: they become
  ``decode_head.aspp_modules.{0,1}.conv`` of ``DLV2Head(dilations=(6, 12))``; ``conv2d_list.2`` / ``.3`` are
  dropped, and the conversion says so;
* ``DeepLab_init.pth`` (AdaptSegNet's MS-COCO DeepLab, the initial weights): the same keys under one leading
  prefix (``Scale.conv1.weight``...), its ``layer5`` a classifier of other classes, which a backbone drops.

The backbone's names are those of mmseg's ``ResNet`` with the 7x7 stem (:class:`daseg.models.backbones.DeepLabResNet`).
"""
import torch

from ..errors import UserError
from .encoder_keys import BACKBONE_PREFIX, family_of
from .keys import listed, strip_module_prefix, unwrap_state_dict

# The original classifier, under which every key of ``layer5`` lies.
CLASSIFIER_PREFIX = 'layer5.'
# Two keys that only a segmentor of the original has at its top level.
SEGMENTOR_MARKERS = ('conv1.weight', 'layer5.conv2d_list.0.weight')
STEM_KEY = 'conv1.weight'
# BN step counters: files of torch < 0.4.1 have none; with a set momentum they change nothing.
STEP_COUNTER = 'num_batches_tracked'

# Original prefix -> this project's prefix; None: dropped (the original never uses these convs).
SEGMENTOR_TABLE = (
    ('conv1.', 'backbone.conv1.'),
    ('bn1.', 'backbone.bn1.'),
    ('layer1.', 'backbone.layer1.'),
    ('layer2.', 'backbone.layer2.'),
    ('layer3.', 'backbone.layer3.'),
    ('layer4.', 'backbone.layer4.'),
    ('layer5.conv2d_list.0.', 'decode_head.aspp_modules.0.conv.'),
    ('layer5.conv2d_list.1.', 'decode_head.aspp_modules.1.conv.'),
    ('layer5.conv2d_list.2.', None),
    ('layer5.conv2d_list.3.', None),
)


def is_original_deeplab(state_dict):
    """Whether ``state_dict`` (a ``module.`` prefix allowed) is a segmentor in the original DeepLab layout."""
    sd = strip_module_prefix(state_dict)
    return all(key in sd for key in SEGMENTOR_MARKERS)


def _with_step_counters(sd):
    """``sd`` with a zero step counter for every BN (a key ending ``running_mean``) that has none, and how many."""
    out = dict(sd)
    missing = [k[:-len('running_mean')] + STEP_COUNTER for k in sd
               if k.endswith('.running_mean') and k[:-len('running_mean')] + STEP_COUNTER not in sd]
    for key in missing:
        out[key] = torch.tensor(0, dtype=torch.long)
    return out, len(missing)


def convert_deeplab_segmentor(state_dict, source='weights'):
    """Rename a segmentor of the original DeepLab layout to ``backbone.*`` + ``decode_head.aspp_modules.*``.

    Args:
        state_dict (dict[str, Tensor]): the original's weights (a ``module.`` prefix allowed).
        source (str): name of the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: the renamed weights, and one-line notes of what the conversion did
        (for the caller to log). BNs without a step counter get a zero one (noted).

    Raises:
        UserError: a key the table does not know (names it).
    """
    out, dropped = {}, []
    for key, value in strip_module_prefix(state_dict).items():
        rule = next(((old, new) for old, new in SEGMENTOR_TABLE if key.startswith(old)), None)
        if rule is None:
            raise UserError(f'{source}: {key} is no key of the original DeepLab-v2 layout (conv1, bn1, layer1-4, '
                            'layer5.conv2d_list.0-3)')
        old, new = rule
        if new is None:
            dropped.append(key)
        else:
            out[new + key[len(old):]] = value
    notes = ['original DeepLab-v2 layout: conv1, bn1, layer1-4 -> backbone.*, layer5.conv2d_list.0/1 -> '
             'decode_head.aspp_modules.0/1.conv (rates 6, 12)']
    if dropped:
        notes.append(f'dropped {listed(dropped, 4)} ({len(dropped)} tensors): the original classifier returns '
                     'after the rates 6 and 12 and never uses conv2d_list.2/3')
    out, added = _with_step_counters(out)
    if added:
        notes.append(f'{added} BN step counters (num_batches_tracked) absent from the file, set to 0')
    return out, notes


def strip_init_prefix(state_dict):
    """Remove the one leading prefix under which ``DeepLab_init.pth`` holds every key (``Scale.conv1.weight``).

    Args:
        state_dict (dict[str, Tensor]): weights.

    Returns:
        tuple[dict[str, Tensor], str]: the weights without the prefix and the prefix (e.g. ``'Scale.'``); the
        weights unchanged and ``''`` when the keys do not all share one prefix above ``conv1.weight``.
    """
    heads = {key.partition('.')[0] for key in state_dict}
    if len(heads) != 1:
        return state_dict, ''
    prefix = heads.pop() + '.'
    if prefix + STEM_KEY not in state_dict:
        return state_dict, ''
    return {k[len(prefix):]: v for k, v in state_dict.items()}, prefix


def _not_deeplab(sd, source):
    """The UserError for weights without the 7x7 stem: says what the file holds instead."""
    wanted = 'DeepLabResNet needs the 7x7-stem layout (conv1.weight, layer1.0.conv1.weight, ...)'
    if 'stem.0.weight' in sd:
        return UserError(f'{source} holds a ResNet-V1c (three-conv stem, stem.0.weight); {wanted}, e.g. '
                         'DeepLab_init.pth or an original DeepLab checkpoint; the V1c file is for CheckedResNetV1c')
    found = family_of(sd)
    what = found[0] if found else f'no ResNet weights (first keys: {listed(sd)})'
    return UserError(f'{source} holds {what}; {wanted}')


def split_deeplab_backbone(checkpoint, source='weights'):
    """The DeepLab ResNet backbone inside a loaded checkpoint, and the keys left out.

    Args:
        checkpoint (dict): a ``DeepLab_init.pth`` (one leading prefix), an original segmentor, this project's
            segmentor (``backbone.*``) or a bare backbone; wrappers and ``module.`` as in the module docstring.
        source (str): name of the file, for messages.

    Returns:
        tuple[dict[str, Tensor], list[str]]: backbone weights under mmseg's ``ResNet`` names, and the file's keys
        that are not the backbone's (``layer5.*``, ``decode_head.*``), as the file names them.

    Raises:
        UserError: the file holds no 7x7-stem ResNet (one line saying what it holds).
    """
    sd = unwrap_state_dict(checkpoint, source)
    if any(k.startswith(BACKBONE_PREFIX) for k in sd):
        dropped = [k for k in sd if not k.startswith(BACKBONE_PREFIX)]
        sd, prefix = {k[len(BACKBONE_PREFIX):]: v for k, v in sd.items() if k.startswith(BACKBONE_PREFIX)}, ''
    else:
        dropped = []
        sd, prefix = strip_init_prefix(sd)
    if STEM_KEY not in sd:
        raise _not_deeplab(sd, source)
    dropped += [prefix + k for k in sd if k.startswith(CLASSIFIER_PREFIX)]
    return {k: v for k, v in sd.items() if not k.startswith(CLASSIFIER_PREFIX)}, dropped
