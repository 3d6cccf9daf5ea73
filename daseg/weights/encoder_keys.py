"""What the Swin, BEiT and MAE key tables share: the bare backbone inside a file, telling the encoder families
apart, checking that every block is whole, and fitting the converted weights to a built encoder.

The encoders (:mod:`daseg.models.backbones.swin`, :mod:`daseg.models.backbones.vit`) take ``pretrained=<local
file>`` and load it in ``init_weights`` through :class:`CheckedPretrained`: read weights-only, converted by their
key table, resized to the model (window, image size), then loaded so that every tensor of the model comes from the
file except those a classification file never holds (named by the model's ``expected_absent``); the file's other
tensors (classifier, pre-training heads) are dropped; one log line names both.
"""
import re

from mmengine.logging import print_log

from ..errors import UserError
from .io import load_checkpoint_file
from .keys import check_fits, listed, unwrap_state_dict

BACKBONE_PREFIX = 'backbone.'

# (what the file holds, the --family of tools/convert_backbone_weights.py that reads it, a key only it has).
# Order matters: BEiT (q and v biases) before MAE / ViT (one qkv bias).
_FAMILIES = (
    ('Swin Transformer V2 weights (cpb_mlp), which mmseg\'s SwinTransformer does not implement', None,
     re.compile(r'(^|\.)cpb_mlp\.')),
    ('Swin weights', 'swin', re.compile(r'^(layers\.\d+\.blocks\.\d+\.attn|stages\.\d+\.blocks\.\d+\.attn\.w_msa)'
                                        r'\.qkv\.weight$')),
    ('BEiT weights', 'beit', re.compile(r'^(blocks|layers)\.\d+\.attn\.q_bias$')),
    ('MAE / ViT weights', 'mae', re.compile(r'^(blocks|layers)\.\d+\.attn\.qkv\.bias$')),
    ('ConvNeXt weights', 'convnext', re.compile(r'^downsample_layers\.0\.0\.weight$')),
    ('MiT (SegFormer) weights', None, re.compile(r'^(patch_embed1\.proj|layers\.0\.0\.projection)\.weight$')),
    ('ResNet weights', None, re.compile(r'^(stem\.0|conv1|layer1\.0\.conv1)\.weight$')),
)
_NAMES = {'swin': 'Swin', 'beit': 'BEiT', 'mae': 'MAE / ViT'}


def bare_backbone(checkpoint, source='weights'):
    """The backbone's tensors inside a loaded checkpoint: a raw state dict, or one under ``state_dict`` /
    ``model``, with ``module.`` (DataParallel) and ``backbone.`` (a whole segmentor) prefixes removed; in a
    segmentor's file only the ``backbone.`` keys are kept."""
    sd = unwrap_state_dict(checkpoint, source)
    if any(k.startswith(BACKBONE_PREFIX) for k in sd):
        sd = {k[len(BACKBONE_PREFIX):]: v for k, v in sd.items() if k.startswith(BACKBONE_PREFIX)}
    return sd


def family_of(sd):
    """``(what, family)`` of the first entry of the family table whose marker key ``sd`` has, or None."""
    for what, family, marker in _FAMILIES:
        if any(marker.search(k) for k in sd):
            return what, family
    return None


def require_family(sd, family, source):
    """Raise a one-line UserError unless ``sd`` holds weights of ``family`` (``'swin'``, ``'beit'``, ``'mae'``)."""
    found = family_of(sd)
    if found is None:
        raise UserError(f'{source} holds no {_NAMES[family]} weights (none of the keys of a Swin, BEiT, MAE, '
                        f'ConvNeXt, MiT or ResNet file); first keys: {listed(sd)}')
    what, other = found
    if other != family:
        hint = f' (--family {other})' if other else ''
        raise UserError(f'{source} holds {what}{hint}, not {_NAMES[family]} weights')


def check_blocks(sd, block, source):
    """Refuse weights in which a block lacks a tensor that the other blocks have, or a block number is skipped.

    Args:
        sd (dict[str, Tensor]): converted weights.
        block (re.Pattern): matches a key's block prefix, e.g. ``stages.1.blocks.3`` (its last component the
            block's number within its parent).
        source (str): name of the file, for messages.
    """
    parts = {}
    for key in sd:
        if m := block.match(key):
            parts.setdefault(m[0], set()).add(key[len(m[0]) + 1:])
    every = set().union(*parts.values()) if parts else set()
    numbers = {}
    for prefix, names in parts.items():
        if names != every:
            raise UserError(f'{source}: block {prefix} lacks {listed(sorted(every - names))}, which the other '
                            'blocks have (a truncated or edited file?)')
        parent, _, number = prefix.rpartition('.')
        numbers.setdefault(parent, set()).add(int(number))
    for parent, found in numbers.items():
        if gap := sorted(set(range(max(found) + 1)) - found):
            raise UserError(f'{source}: block {parent}.{gap[0]} is missing, the file has {parent}.0 to '
                            f'{parent}.{max(found)} (a truncated or edited file?)')


def renamed(sd, rules, keep=()):
    """Weights renamed by the first matching ``(pattern, replacement)`` of ``rules``, and the keys none matches.

    Args:
        sd (dict[str, Tensor]): weights.
        rules (Sequence[tuple[re.Pattern, str]]): ``pattern.sub(replacement, key)`` for the first that matches.
        keep (Sequence[re.Pattern]): keys kept under their name (checked after ``rules``).

    Returns:
        tuple[dict[str, Tensor], list[str]]: renamed weights, left-out keys.
    """
    out, left = {}, []
    for key, value in sd.items():
        rule = next(((p, r) for p, r in rules if p.match(key)), None)
        if rule:
            out[rule[0].sub(rule[1], key, count=1)] = value
        elif any(p.match(key) for p in keep):
            out[key] = value
        else:
            left.append(key)
    return out, left


def grouped(keys, n=4):
    """``'norm0.weight, stages.*.blocks.*.attn.w_msa.relative_position_index (12)'``: keys with their numbers
    replaced by ``*``, counted."""
    counts = {}
    for key in keys:
        pattern = re.sub(r'(^|\.)\d+(?=\.)', r'\1*', key)
        counts[pattern] = counts.get(pattern, 0) + 1
    return listed([p if c == 1 else f'{p} ({c})' for p, c in counts.items()], n) or 'none'


def pretrained_file(owner, pretrained, init_cfg):
    """``pretrained`` checked to be a local path (or None); refuses it with ``init_cfg``, and refuses mmengine's
    ``Pretrained`` initialiser (it unpickles with weights_only off and loads whatever fits)."""
    for cfg in init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            raise UserError(f"{owner}: init_cfg=dict(type='Pretrained') is not read here; give the file as "
                            f"pretrained='{cfg.get('checkpoint', 'pretrained/....pth')}' instead")
    if pretrained is None:
        return None
    if init_cfg is not None:
        raise UserError(f'{owner}: give either pretrained or init_cfg, not both')
    if not isinstance(pretrained, str):
        raise UserError(f'{owner}: pretrained must be a file path, got {pretrained!r}')
    if '://' in pretrained:
        raise UserError(f'{owner}: pretrained={pretrained} is a download address; nothing is downloaded here: '
                        'put the weights file in pretrained/ and give its path')
    return pretrained


class CheckedPretrained:
    """Mixin placed before an mmseg backbone class: ``pretrained`` loaded weights-only and checked key by key.

    The class defines ``split_checkpoint(checkpoint, source) -> (weights, dropped keys)`` (its key table),
    ``expected_absent(key) -> bool`` and may override ``adapt_pretrained(weights) -> weights`` (resizing).
    """

    def __init__(self, pretrained=None, **kwargs):
        path = pretrained_file(type(self).__name__, pretrained, kwargs.get('init_cfg'))
        super().__init__(pretrained=None, **kwargs)
        self.pretrained = path

    def init_weights(self):
        """Load ``pretrained``, else initialise randomly as mmseg does."""
        if self.pretrained is None:
            super().init_weights()
            return
        self.load_pretrained(load_checkpoint_file(self.pretrained), source=self.pretrained)
        self._is_init = True

    def adapt_pretrained(self, sd):
        return sd

    def load_pretrained(self, checkpoint, source='weights'):
        """Convert, resize, check and load a loaded checkpoint; one log line says what was not loaded.

        Raises:
            UserError: another family, a tensor of another shape, or a tensor the model needs that the file lacks.
        """
        sd, dropped = self.split_checkpoint(checkpoint, source)
        sd = self.adapt_pretrained(sd)
        own = self.state_dict()
        needed = {k: v for k, v in own.items() if k in sd or not self.expected_absent(k)}
        check_fits(needed, {k: v for k, v in sd.items() if k in own},
                   f'{source} does not fit {type(self).__name__}')
        self.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
        buffers = {name for name, _ in self.named_buffers()}
        absent = [k for k in own if k not in sd and k not in buffers]
        computed = [k for k in own if k not in sd and k in buffers]
        dropped = dropped + [k for k in sd if k not in own]
        print_log(f'{type(self).__name__}: loaded {len(own) - len(absent) - len(computed)} tensors from {source}; '
                  f'initialised, not loaded: {grouped(absent, 6)}; {len(computed)} buffers computed by the model; '
                  f'dropped: {grouped(dropped, 6)}', logger='current')
