"""Key mapping between the three MiT checkpoint layouts in use, and loading of MiT weight files.

Layouts (stage ``s`` is 1-based in the original, 0-based elsewhere; block ``j`` is 0-based):

* ``original``: SegFormer / DAFormer ``mit_bX.pth`` -- ``patch_embed{s}.proj``, ``block{s}.{j}.attn.q`` and
  ``attn.kv`` (Linear, kv = [k; v]), ``mlp.fc1`` / ``mlp.fc2`` (Linear), ``norm{s}``.
* ``hf``: HuggingFace ``nvidia/mit-bX`` -- ``segformer.encoder.patch_embeddings.{i}``,
  ``segformer.encoder.block.{i}.{j}.attention.self.query/key/value``, ``mlp.dense1/2``,
  ``segformer.encoder.layer_norm.{i}``.
* ``mmseg``: mmseg's ``MixVisionTransformer`` -- ``layers.{i}.0`` patch embed, ``layers.{i}.1.{j}`` blocks whose
  attention is a ``nn.MultiheadAttention`` (``in_proj_weight`` = [q; k; v]) and whose MixFFN uses 1x1 convs,
  ``layers.{i}.2`` stage norm.

Every other part of daseg works in the mmseg layout; released DAFormer/HRDA checkpoints (original layout under
``backbone.``) go through :func:`convert_segmentor_state_dict`.
"""
import re

import torch

from ..errors import UserError
from .io import read_weights_file
from .keys import unwrap_state_dict

LAYOUTS = ('original', 'hf', 'mmseg')

# Block-internal renames original <-> mmseg, except q/kv which are merged into in_proj.
_BLOCK_ORIGINAL_TO_MMSEG = {
    'norm1': 'norm1',
    'attn.proj': 'attn.attn.out_proj',
    'attn.sr': 'attn.sr',
    'attn.norm': 'attn.norm',
    'norm2': 'norm2',
    'mlp.fc1': 'ffn.layers.0',
    'mlp.dwconv.dwconv': 'ffn.layers.1',
    'mlp.fc2': 'ffn.layers.4',
}
_BLOCK_MMSEG_TO_ORIGINAL = {v: k for k, v in _BLOCK_ORIGINAL_TO_MMSEG.items()}
# Linear in the original, 1x1 conv in mmseg.
_POINTWISE = ('mlp.fc1', 'mlp.fc2')

# Block-internal renames hf -> original, except query/key/value.
_BLOCK_HF_TO_ORIGINAL = {
    'layer_norm_1': 'norm1',
    'attention.output.dense': 'attn.proj',
    'attention.self.sr': 'attn.sr',
    'attention.self.layer_norm': 'attn.norm',
    'layer_norm_2': 'norm2',
    'mlp.dense1': 'mlp.fc1',
    'mlp.dwconv.dwconv': 'mlp.dwconv.dwconv',
    'mlp.dense2': 'mlp.fc2',
}

# Classifier heads of the ImageNet / HF checkpoints; not part of the backbone.
_HEAD_PREFIXES = ('head.', 'classifier.', 'decode_head.')

_MARKERS = {
    'original': 'patch_embed1.proj.weight',
    'hf': 'encoder.patch_embeddings.0.proj.weight',
    'mmseg': 'layers.0.0.projection.weight',
}


def _split(key):
    """``'a.b.weight'`` -> ``('a.b', 'weight')``."""
    module, _, param = key.rpartition('.')
    return module, param


def _strip_hf_prefix(sd):
    return {k[len('segformer.'):] if k.startswith('segformer.') else k: v for k, v in sd.items()}


def detect_layout(sd):
    """Which MiT layout a bare backbone state dict uses.

    Args:
        sd (dict[str, Tensor]): backbone weights, without a ``backbone.`` prefix (HF's ``segformer.`` prefix
            is allowed).

    Returns:
        str | None: ``'original'``, ``'hf'``, ``'mmseg'``, or None when it is not a MiT state dict.
    """
    keys = set(_strip_hf_prefix(sd))
    for layout in LAYOUTS:
        if _MARKERS[layout] in keys:
            return layout
    return None


def _hf_to_original(sd):
    out = {}
    sd = _strip_hf_prefix(sd)
    for key, value in sd.items():
        if key.startswith(_HEAD_PREFIXES):
            continue
        if m := re.fullmatch(r'encoder\.patch_embeddings\.(\d+)\.(proj|layer_norm)\.(\w+)', key):
            stage, part, param = int(m[1]) + 1, m[2], m[3]
            out[f'patch_embed{stage}.{"proj" if part == "proj" else "norm"}.{param}'] = value
        elif m := re.fullmatch(r'encoder\.layer_norm\.(\d+)\.(\w+)', key):
            out[f'norm{int(m[1]) + 1}.{m[2]}'] = value
        elif m := re.fullmatch(r'encoder\.block\.(\d+)\.(\d+)\.(.+)', key):
            prefix = f'block{int(m[1]) + 1}.{m[2]}.'
            module, param = _split(m[3])
            if module == 'attention.self.query':
                out[f'{prefix}attn.q.{param}'] = value
            elif module == 'attention.self.key':
                value_key = f'encoder.block.{m[1]}.{m[2]}.attention.self.value.{param}'
                if value_key not in sd:
                    raise UserError(f'HuggingFace MiT weights have {key} but no {value_key}')
                out[f'{prefix}attn.kv.{param}'] = torch.cat([value, sd[value_key]], dim=0)
            elif module == 'attention.self.value':
                continue  # merged into kv together with the key projection
            elif module in _BLOCK_HF_TO_ORIGINAL:
                out[f'{prefix}{_BLOCK_HF_TO_ORIGINAL[module]}.{param}'] = value
            else:
                raise UserError(f'unexpected key in HuggingFace MiT weights: {key}')
        else:
            raise UserError(f'unexpected key in HuggingFace MiT weights: {key}')
    return out


def _original_to_mmseg(sd):
    out = {}
    for key, value in sd.items():
        if key.startswith(_HEAD_PREFIXES):
            continue
        if m := re.fullmatch(r'patch_embed(\d)\.(proj|norm)\.(\w+)', key):
            stage, part, param = int(m[1]) - 1, m[2], m[3]
            out[f'layers.{stage}.0.{"projection" if part == "proj" else "norm"}.{param}'] = value
        elif m := re.fullmatch(r'norm(\d)\.(\w+)', key):
            out[f'layers.{int(m[1]) - 1}.2.{m[2]}'] = value
        elif m := re.fullmatch(r'block(\d)\.(\d+)\.(.+)', key):
            prefix = f'layers.{int(m[1]) - 1}.1.{m[2]}.'
            module, param = _split(m[3])
            if module == 'attn.q':
                kv_key = f'block{m[1]}.{m[2]}.attn.kv.{param}'
                if kv_key not in sd:
                    raise UserError(f'MiT weights have {key} but no {kv_key}')
                # nn.MultiheadAttention packs the projections as [q; k; v], the original kv as [k; v].
                out[f'{prefix}attn.attn.in_proj_{param}'] = torch.cat([value, sd[kv_key]], dim=0)
            elif module == 'attn.kv':
                continue  # merged into in_proj together with q
            elif module in _BLOCK_ORIGINAL_TO_MMSEG:
                if module in _POINTWISE and param == 'weight':
                    value = value[:, :, None, None]
                out[f'{prefix}{_BLOCK_ORIGINAL_TO_MMSEG[module]}.{param}'] = value
            else:
                raise UserError(f'unexpected key in MiT weights: {key}')
        else:
            raise UserError(f'unexpected key in MiT weights: {key}')
    return out


def mmseg_to_original(sd):
    """Inverse of :func:`convert_mit_state_dict` for the original layout.

    Args:
        sd (dict[str, Tensor]): mmseg-layout MiT weights.

    Returns:
        dict[str, Tensor]: the same weights under the SegFormer/DAFormer key names and shapes.
    """
    out = {}
    for key, value in sd.items():
        if m := re.fullmatch(r'layers\.(\d)\.0\.(projection|norm)\.(\w+)', key):
            part = 'proj' if m[2] == 'projection' else 'norm'
            out[f'patch_embed{int(m[1]) + 1}.{part}.{m[3]}'] = value
        elif m := re.fullmatch(r'layers\.(\d)\.2\.(\w+)', key):
            out[f'norm{int(m[1]) + 1}.{m[2]}'] = value
        elif m := re.fullmatch(r'layers\.(\d)\.1\.(\d+)\.(.+)', key):
            prefix = f'block{int(m[1]) + 1}.{m[2]}.'
            module, param = _split(m[3])
            if module == 'attn.attn' and param in ('in_proj_weight', 'in_proj_bias'):
                dims = value.shape[0] // 3
                suffix = param[len('in_proj_'):]
                out[f'{prefix}attn.q.{suffix}'] = value[:dims]
                out[f'{prefix}attn.kv.{suffix}'] = value[dims:]
            elif module in _BLOCK_MMSEG_TO_ORIGINAL:
                original = _BLOCK_MMSEG_TO_ORIGINAL[module]
                if original in _POINTWISE and param == 'weight':
                    value = value[:, :, 0, 0]
                out[f'{prefix}{original}.{param}'] = value
            else:
                raise UserError(f'unexpected key in mmseg MiT weights: {key}')
        else:
            raise UserError(f'unexpected key in mmseg MiT weights: {key}')
    return out


def convert_mit_state_dict(sd):
    """Convert MiT weights in any supported layout to mmseg's layout.

    Classifier heads (``head.*``, ``classifier.*``, ``decode_head.*``) are dropped.

    Args:
        sd (dict[str, Tensor]): bare backbone weights in the original, hf or mmseg layout.

    Returns:
        dict[str, Tensor]: weights with mmseg's ``MixVisionTransformer`` key names and shapes.

    Raises:
        UserError: when the keys are not those of a MiT.
    """
    layout = detect_layout(sd)
    if layout is None:
        first = ', '.join(list(sd)[:3]) or 'none'
        raise UserError('not MiT weights: found none of the keys of the original '
                        f'({_MARKERS["original"]}), HuggingFace ({_MARKERS["hf"]}) or mmseg '
                        f'({_MARKERS["mmseg"]}) layout; first keys: {first}')
    if layout == 'mmseg':
        return {k: v for k, v in sd.items() if not k.startswith(_HEAD_PREFIXES)}
    if layout == 'hf':
        sd = _hf_to_original(sd)
    return _original_to_mmseg(sd)


def _backbone_prefix(key):
    """The part of ``key`` up to and including its first ``backbone.`` component, or None."""
    m = re.match(r'((?:.*?\.)?backbone\.)', key)
    return m[1] if m else None


def convert_segmentor_state_dict(sd, target='mmseg'):
    """Convert the MiT backbone(s) inside a segmentor or UDA-wrapper state dict; other keys are kept.

    Every group of keys under a prefix ending in ``backbone.`` (``backbone.``, ``model.backbone.``,
    ``ema_model.backbone.``, ``imnet_model.backbone.``, ...) whose content is a MiT is converted; groups holding
    another backbone (e.g. a ResNet) are left as they are.

    Args:
        sd (dict[str, Tensor]): full state dict.
        target (str): ``'mmseg'`` (any layout -> mmseg) or ``'original'`` (any layout -> original).

    Returns:
        dict[str, Tensor]: a new dict; each converted group takes the place of its first key.
    """
    if target not in ('mmseg', 'original'):
        raise ValueError(f"target must be 'mmseg' or 'original', got {target!r}")
    groups = {}
    for key, value in sd.items():
        prefix = _backbone_prefix(key)
        if prefix is not None:
            groups.setdefault(prefix, {})[key[len(prefix):]] = value
    converted = {}
    for prefix, group in groups.items():
        if detect_layout(group) is None:
            continue
        group = convert_mit_state_dict(group)
        if target == 'original':
            group = mmseg_to_original(group)
        converted[prefix] = {prefix + k: v for k, v in group.items()}
    mit_prefixes = set(converted)
    out = {}
    for key, value in sd.items():
        prefix = _backbone_prefix(key)
        if prefix not in mit_prefixes:
            out[key] = value
        elif prefix in converted:
            out.update(converted.pop(prefix))
    return out


def backbone_state_dict(checkpoint):
    """The bare backbone weights inside a loaded checkpoint object.

    Accepts a raw state dict or one wrapped in ``state_dict`` / ``model``, with an optional ``module.`` prefix
    (DataParallel) and an optional ``backbone.`` prefix (a whole segmentor's weights).

    Args:
        checkpoint (dict): the object returned by ``torch.load``.

    Returns:
        dict[str, Tensor]: backbone weights without prefixes.
    """
    sd = unwrap_state_dict(checkpoint)
    if detect_layout(sd) is None and any(k.startswith('backbone.') for k in sd):
        sd = {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}
    return sd


def load_mit_weights(path):
    """Read a MiT weights file in any supported layout and return mmseg-layout backbone weights.

    Args:
        path (str | os.PathLike): ``mit_bX.pth``, HF ``pytorch_model.bin``, an mmseg MiT file or a whole
            segmentor checkpoint.

    Returns:
        dict[str, Tensor]: mmseg-layout weights.
    """
    sd = backbone_state_dict(read_weights_file(path))
    try:
        return convert_mit_state_dict(sd)
    except UserError as exc:
        raise UserError(f'{path}: {exc}') from None
