"""Permutation alignment of ResNet segmentors before averaging (weight matching of Git Re-Basin).

Hidden channels of a network can be permuted without changing its function. Two models trained from the same
start usually share the order, but where they do not, averaging mixes unrelated channels. Weight matching finds,
for each group of channels that must be permuted together, the permutation of model B that best matches model
A (a linear assignment over the inner products of their weights), one group at a time until no group improves.

Unlike the released merging tool, every tensor that carries a permuted channel is permuted: convolution weights
on both axes, BatchNorm weight, bias and running statistics, and the decode head's input channels; the RGB input
is never permuted. Supported: mmseg ResNet / ResNetV1c / ResNetV1d backbones (basic or bottleneck blocks) with a
DAFormer, SegFormer-MLP or DeepLabV2 head, also inside the HRDA head.
"""
import re

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..errors import UserError

_BN_TENSORS = ('weight', 'bias', 'running_mean', 'running_var')
# Running statistics are permuted but not matched on: they are not weights of the function being compared.
_NOT_MATCHED = ('.running_mean', '.running_var')
# Head tensors that read backbone stage outputs: per-level embeddings (DAFormer, SegFormer MLP; index = stage)
# and DeepLabV2's dilated convolutions (last stage).
_EMBED_INPUT = re.compile(r'^decode_head\.(?:(?:head|scale_attention)\.)?embed_layers\.(\d+)\.proj\.weight$')
_DLV2_INPUT = re.compile(r'^decode_head\.(?:(?:head|scale_attention)\.)?aspp_modules\.\d+\.conv\.weight$')


class PermutationSpec:
    """Which permutation acts on which axis of which tensor.

    Args:
        axes (dict[str, tuple]): key -> one permutation name (or None) per axis of the tensor.
    """

    def __init__(self, axes):
        self.axes = axes
        self.groups = {}
        for key, names in axes.items():
            for axis, name in enumerate(names):
                if name is not None:
                    self.groups.setdefault(name, []).append((key, axis))


def _numbered(shapes, prefix):
    """Sorted indices i of ``prefix{i}.`` keys, e.g. the layers of ``backbone.stem.``."""
    found = {int(m[1]) for k in shapes for m in [re.match(re.escape(prefix) + r'(\d+)\.', k)] if m}
    return sorted(found)


def _conv_then_bn(axes, shapes, names, p_in, new_perm):
    """Walk a chain of convolutions, each followed by its BatchNorm; returns the last output permutation.

    Args:
        names (list[tuple[str, str]]): (conv prefix, BatchNorm prefix or None) in order.
        p_in (str | None): permutation of the chain's input channels.
        new_perm (callable): ``new_perm(i)`` names the output permutation of the i-th convolution.
    """
    for i, (conv, bn) in enumerate(names):
        p_out = new_perm(i)
        weight = shapes[conv + 'weight']
        axes[conv + 'weight'] = (p_out, p_in) + (None,) * (len(weight) - 2)
        if conv + 'bias' in shapes:
            axes[conv + 'bias'] = (p_out,)
        for name in _BN_TENSORS if bn else ():
            if bn + name in shapes:
                axes[bn + name] = (p_out,)
        p_in = p_out
    return p_in


def _sequential_layers(shapes, prefix):
    """(conv, BatchNorm) prefix pairs of an nn.Sequential such as the V1c stem or a downsample branch."""
    pairs = []
    for i in _numbered(shapes, prefix):
        key = f'{prefix}{i}.'
        if len(shapes.get(key + 'weight', ())) == 4:
            pairs.append([key, None])
        elif key + 'running_mean' in shapes and pairs:
            pairs[-1][1] = key
    return [tuple(p) for p in pairs]


def resnet_permutation_spec(shapes):
    """The permutation spec of a ResNet segmentor.

    Args:
        shapes (dict[str, tuple]): key -> shape of the segmentor's state dict (``backbone.*``, ``decode_head.*``).

    Returns:
        PermutationSpec: residual streams ``stream0`` (stem output) to ``streamL``, block-inner permutations.

    Raises:
        UserError: not a ResNet backbone, backbone keys outside the ResNet layout, or an unknown decode head.
    """
    if 'backbone.layer1.0.conv1.weight' not in shapes:
        raise UserError('--params rebasin aligns ResNet backbones (backbone.layer1.0.conv1.weight); this '
                        'model has another backbone (e.g. MiT), use --params linear')
    if any(k.startswith('auxiliary_head.') for k in shapes):
        raise UserError('--params rebasin does not support an auxiliary head')
    axes = {}
    if 'backbone.stem.0.weight' in shapes:
        stem = _sequential_layers(shapes, 'backbone.stem.')
    else:
        stem = [('backbone.conv1.', 'backbone.bn1.')]
    stream = _conv_then_bn(axes, shapes, stem, None,
                           lambda i: 'stream0' if i == len(stem) - 1 else f'stem{i}')
    widths = {}
    for layer in range(1, 5):
        blocks = _numbered(shapes, f'backbone.layer{layer}.')
        for block in blocks:
            prefix = f'backbone.layer{layer}.{block}.'
            convs = [i for i in (1, 2, 3) if prefix + f'conv{i}.weight' in shapes]
            chain = [(prefix + f'conv{i}.', prefix + f'bn{i}.') for i in convs]
            out = f'stream{layer}'
            _conv_then_bn(axes, shapes, chain, stream if block == blocks[0] else out,
                          lambda i: out if i == len(chain) - 1 else f'layer{layer}.{block}.inner{i + 1}')
            shortcut = _sequential_layers(shapes, prefix + 'downsample.')
            _conv_then_bn(axes, shapes, shortcut, stream if block == blocks[0] else out, lambda i: out)
        if blocks:
            stream = f'stream{layer}'
            widths[layer] = shapes[chain[-1][0] + 'weight'][0]
    leftover = [k for k in shapes if k.startswith('backbone.') and k not in axes
                and not k.endswith('num_batches_tracked')]
    if leftover:
        raise UserError(f'--params rebasin: backbone key {leftover[0]} is outside the ResNet layout it knows')
    _add_head_inputs(axes, shapes, widths)
    return PermutationSpec(axes)


def _add_head_inputs(axes, shapes, widths):
    last = max(widths)
    for key, shape in shapes.items():
        embed = _EMBED_INPUT.match(key)
        if embed:
            stage = int(embed[1]) + 1
        elif _DLV2_INPUT.match(key):
            stage = last
        else:
            continue
        if stage not in widths or shape[1] != widths[stage]:
            raise UserError(f'--params rebasin: {key} has {shape[1]} input channels, expected the '
                            f'{widths.get(stage, "?")} channels of backbone stage {stage}')
        axes[key] = (None, f'stream{stage}') + (None,) * (len(shape) - 2)
    if not any(_EMBED_INPUT.match(k) or _DLV2_INPUT.match(k) for k in axes):
        heads = sorted({k.split('.')[1] for k in shapes if k.startswith('decode_head.')})
        raise UserError('--params rebasin knows the DAFormer, SegFormer-MLP and DeepLabV2 heads; this decode '
                        f'head ({", ".join(heads[:5])}, ...) reads the backbone in a way it cannot align')


def permute(spec, perms, state_dict):
    """Apply permutations to a state dict.

    Args:
        spec (PermutationSpec): from :func:`resnet_permutation_spec`.
        perms (dict[str, Tensor]): permutation name -> new order (index i takes old channel perms[i]).
        state_dict (dict[str, Tensor]): weights to permute; keys outside the spec are returned unchanged.

    Returns:
        dict[str, Tensor]: the permuted weights.
    """
    out = dict(state_dict)
    for key, names in spec.axes.items():
        tensor = state_dict[key]
        for axis, name in enumerate(names):
            if name is not None:
                tensor = tensor.index_select(axis, perms[name])
        out[key] = tensor
    return out


def _permuted_except(spec, perms, key, tensor, axis):
    for other_axis, name in enumerate(spec.axes[key]):
        if name is not None and other_axis != axis:
            tensor = tensor.index_select(other_axis, perms[name])
    return tensor


def weight_matching(spec, reference, other, max_iter=100, seed=0):
    """Permutations of ``other`` that best match ``reference`` (coordinate ascent over permutation groups).

    Args:
        spec (PermutationSpec): from :func:`resnet_permutation_spec`.
        reference (dict[str, Tensor]): the model to align to (any positive scaling of it gives the same result).
        other (dict[str, Tensor]): the model to permute.
        max_iter (int): passes over all groups; the loop ends earlier when a pass improves no group.
        seed (int): order in which groups are visited in each pass.

    Returns:
        tuple[dict[str, Tensor], int]: the permutations (apply with :func:`permute`) and the passes made.
    """
    perms = {}
    for name, members in spec.groups.items():
        key, axis = members[0]
        perms[name] = torch.arange(reference[key].shape[axis])
    order = sorted(spec.groups)
    rng = np.random.default_rng(seed)
    for iteration in range(1, max_iter + 1):
        improved = False
        for name in rng.permutation(order):
            size = len(perms[name])
            scores = torch.zeros(size, size, dtype=torch.float64)
            for key, axis in spec.groups[name]:
                if key.endswith(_NOT_MATCHED):
                    continue
                a = reference[key].double().movedim(axis, 0).reshape(size, -1)
                b = _permuted_except(spec, perms, key, other[key], axis).double().movedim(axis, 0).reshape(size, -1)
                scores += a @ b.T
            _, cols = linear_sum_assignment(scores.numpy(), maximize=True)
            rows = torch.arange(size)
            old, new = scores[rows, perms[name]].sum(), scores[rows, cols].sum()
            if new > old + 1e-12 * max(1.0, abs(float(old))):
                perms[name] = torch.as_tensor(cols, dtype=torch.long)
                improved = True
        if not improved:
            break
    return perms, iteration
