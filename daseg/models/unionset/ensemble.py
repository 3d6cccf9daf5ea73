"""The maths between union-set heads over their local classes (:mod:`.label_sets`) and the 19 classes: lifting a
source softmax, the logit ensemble of heads, their consistency on shared classes, and the MaxSquare term.

Logits and probabilities are [N, C, H, W] (any trailing dimensions work), C the local class count of the head.
"""
import functools
from typing import NamedTuple, Sequence, Tuple

import torch

from .label_sets import NUM_CLASSES, LabelSet


def _broadcast(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [C] vector shaped [1, C, 1, ...] to broadcast along dimension 1 of ``like``."""
    return vector.view(1, -1, *([1] * (like.dim() - 2)))


@functools.lru_cache(maxsize=64)
def _lift_tables(label_set: LabelSet, device: torch.device, dtype: torch.dtype):
    index = torch.tensor([label_set.local_index(k) for k in range(NUM_CLASSES)], device=device)
    share = 1.0 / max(len(label_set.unknown), 1)
    weight = torch.tensor([1.0 if k in label_set.known else share for k in range(NUM_CLASSES)],
                          dtype=dtype, device=device)
    return index, weight


def lift(probs: torch.Tensor, label_set: LabelSet) -> torch.Tensor:
    """Lift a source head's softmax over its local classes to the 19 classes (stage-1 pseudo-labels).

    p19[k] = p[local(k)] for a known class k; an unknown class gets p[0] / (number of unknown classes), the
    "other" mass split evenly, so the result still sums to 1 over the classes. Setting f: a copy of ``probs``.

    Args:
        probs (Tensor): local probabilities [N, K, H, W], K = ``label_set.num_local``.
        label_set (LabelSet): the head's label set.

    Returns:
        Tensor: [N, 19, H, W], a new tensor of the dtype of ``probs``.
    """
    if probs.dim() < 2 or probs.shape[1] != label_set.num_local:
        raise ValueError(f'lift: {label_set.source} expects [N, {label_set.num_local}, ...] probabilities, '
                         f'got {tuple(probs.shape)}')
    index, weight = _lift_tables(label_set, probs.device, probs.dtype)
    return probs.index_select(1, index) * _broadcast(weight, probs)


class _HeadTables(NamedTuple):
    index: torch.Tensor  # [S, 19] long: each trainId's channel in head s (0 where unknown)
    known: torch.Tensor  # [S, 19] bool
    count: torch.Tensor  # [19] long: heads knowing each trainId
    shared: torch.Tensor  # [19] bool: known by more than one head
    num_shared: int


@functools.lru_cache(maxsize=64)
def _head_tables(sets: Tuple[LabelSet, ...], device: torch.device) -> _HeadTables:
    index = torch.tensor([[ls.local_index(k) for k in range(NUM_CLASSES)] for ls in sets], device=device)
    known = torch.tensor([[k in ls.known for k in range(NUM_CLASSES)] for ls in sets], device=device)
    count = known.sum(0)
    return _HeadTables(index, known, count, count > 1, len(shared_classes(sets)))


def _check_heads(logits: Sequence[torch.Tensor], sets: Sequence[LabelSet]) -> _HeadTables:
    """Check one [N, K_s, ...] logit tensor per label set; return the sets' cached tables."""
    sets = tuple(sets)
    if len(logits) != len(sets) or not sets:
        raise ValueError(f'expected one logit tensor per label set ({len(sets)}), got {len(logits)}')
    for x, ls in zip(logits, sets):
        if x.dim() < 2 or x.shape[1] != ls.num_local:
            raise ValueError(f'the {ls.source} head expects [N, {ls.num_local}, ...] logits, got {tuple(x.shape)}')
    return _head_tables(sets, logits[0].device)


def _gather_heads(logits: Sequence[torch.Tensor], tables: _HeadTables):
    """Each head's logits reordered to trainIds [N, 19, ...] (unknown classes hold its "other" channel)."""
    return [x.index_select(1, tables.index[s]) for s, x in enumerate(logits)]


def _mean_of_known(gathered, tables: _HeadTables) -> torch.Tensor:
    total = sum(x * _broadcast(tables.known[s], x) for s, x in enumerate(gathered))
    return total / _broadcast(tables.count, total)


def logit_ensemble(logits: Sequence[torch.Tensor], label_sets: Sequence[LabelSet]) -> torch.Tensor:
    """Average the heads' logits per class over the heads that know the class (logits, not probabilities).

    ens[k] = mean over heads s with k known by s of logits_s[:, local_s(k)]; in setting f, of all heads. One
    gather and a masked sum per head, with index tables cached per (label sets, device).

    Args:
        logits (Sequence[Tensor]): one per head, [N, K_s, H, W], in the order of ``label_sets``.
        label_sets (Sequence[LabelSet]): the heads' label sets, covering all 19 classes.

    Returns:
        Tensor: [N, 19, H, W], differentiable with respect to every head's logits.
    """
    tables = _check_heads(logits, label_sets)
    return _mean_of_known(_gather_heads(logits, tables), tables)


def shared_classes(label_sets: Sequence[LabelSet]) -> Tuple[int, ...]:
    """The trainIds known by more than one of the label sets, ascending (none in setting n, all in f)."""
    return tuple(k for k in range(NUM_CLASSES) if sum(k in ls.known for ls in label_sets) > 1)


def shared_logit_consistency(logits: Sequence[torch.Tensor], label_sets: Sequence[LabelSet]) -> torch.Tensor:
    """Disagreement of the heads' logits on the classes they share (stage 1's cross-model consistency).

    For each class c known by more than one head: with v_s = logits_s[:, local_s(c)] for each head s knowing c
    and m their mean, term_c = sum over those s of the mean over batch and pixels of |v_s - m|. The result is
    the mean of term_c over the shared classes.

    Args:
        logits (Sequence[Tensor]): one per head, [N, K_s, H, W], in the order of ``label_sets``.
        label_sets (Sequence[LabelSet]): the heads' label sets.

    Returns:
        Tensor: scalar of the logits' dtype and device. Exactly 0 when no class is shared (setting n), then
        still connected to every head's logits (with zero gradient) so that it can join a loss.
    """
    tables = _check_heads(logits, label_sets)
    if tables.num_shared == 0:
        return sum(x.sum() for x in logits) * 0
    gathered = _gather_heads(logits, tables)
    mean = _mean_of_known(gathered, tables)
    reduce_dims = [d for d in range(mean.dim()) if d != 1]
    per_class = sum((x - mean).abs().mean(dim=reduce_dims) * (tables.known[s] & tables.shared)
                    for s, x in enumerate(gathered))
    return per_class.sum() / tables.num_shared


def max_square(logits: torch.Tensor) -> torch.Tensor:
    """MaxSquare loss MS(z) = -sum over pixels and classes of softmax(z)^2 / (h * w), averaged over the batch.

    Args:
        logits (Tensor): [N, C, H, W].

    Returns:
        Tensor: scalar of the logits' dtype.
    """
    if logits.dim() < 2:
        raise ValueError(f'max_square expects [N, C, ...] logits, got {tuple(logits.shape)}')
    return -torch.softmax(logits, dim=1).pow(2).sum(dim=1).mean()
