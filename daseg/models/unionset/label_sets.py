"""Union-set multi-source adaptation: each source's label set (the maths between local and 19-class outputs is in
:mod:`.ensemble`).

In the union-set setting each source dataset is labelled with only part of the 19 Cityscapes classes (trainIds,
``daseg.classes.CLASSES``); the sources' label sets together cover all 19. Each source model has its own head
over its *local* classes:

* settings ``'p'`` (partial overlap) and ``'n'`` (no overlap): local index 0 is "other" (every class the source
  does not know) and the K known classes get local indices 1..K **in ascending trainId order** (K + 1 local
  classes). This order is the one the original's ``get_label_mappings`` produces, so its checkpoints' head
  channels line up with it;
* setting ``'f'`` (full): every source knows all 19 classes, the local index is the trainId, there is no "other".

Logits and probabilities are [N, C, H, W] (any trailing dimensions work), C the local class count of the head.
"""
import functools
import itertools
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
import torch

from daseg.classes import CLASSES, IGNORE_INDEX
from daseg.errors import UserError

NUM_CLASSES = len(CLASSES)
SOURCES = ('synscapes', 'gta', 'synthia')
SETTINGS = ('f', 'p', 'n')
VOID_MODES = ('other', 'ignore')

# Groups of trainIds that the tables are written in.
_ROAD_TO_VEGETATION = tuple(range(0, 9))  # road, sidewalk, building, wall, fence, pole, light, sign, vegetation
_ROAD_TO_SKY = tuple(range(0, 11))  # road .. vegetation, terrain, sky
_SKY = (10,)
_TERRAIN = (9,)
_PERSON_RIDER = (11, 12)
_FOUR_WHEELERS = (13, 14, 15, 16)  # car, truck, bus, train
_TWO_WHEELERS = (17, 18)  # motorcycle, bicycle
_PERSON_TO_BICYCLE = tuple(range(11, 19))
_ALL = tuple(range(NUM_CLASSES))


def _classes(*groups):
    return tuple(sorted(set(itertools.chain(*groups))))


_P_SYNTHIA = _classes(_ROAD_TO_VEGETATION, _SKY, _PERSON_RIDER, _TWO_WHEELERS)  # 14
_P_WITH_FOUR_WHEELERS = _classes(_ROAD_TO_SKY, _FOUR_WHEELERS)  # 15
_P_WITH_PERSONS = _classes(_ROAD_TO_SKY, _PERSON_RIDER, _TWO_WHEELERS)  # 15
_N_SYNTHIA = _classes(_ROAD_TO_VEGETATION, _SKY)  # 10
_N_BESIDE_SYNTHIA = _classes(_TERRAIN, _PERSON_RIDER, _FOUR_WHEELERS, _TWO_WHEELERS)  # 9
_N3_PERSONS = _classes(_PERSON_RIDER, _TWO_WHEELERS)  # 4

# setting -> set of sources -> {source: known trainIds}; the original's utils.py:get_label_mappings.
TABLES = {
    'p': {
        frozenset(('synscapes', 'synthia')): {'synscapes': _P_WITH_FOUR_WHEELERS, 'synthia': _P_SYNTHIA},
        frozenset(('gta', 'synthia')): {'gta': _P_WITH_FOUR_WHEELERS, 'synthia': _P_SYNTHIA},
        frozenset(SOURCES): {'synscapes': _P_WITH_FOUR_WHEELERS, 'gta': _P_WITH_FOUR_WHEELERS,
                             'synthia': _P_SYNTHIA},
        frozenset(('synscapes', 'gta')): {'synscapes': _P_WITH_FOUR_WHEELERS, 'gta': _P_WITH_PERSONS},
    },
    'n': {
        frozenset(('synscapes', 'synthia')): {'synscapes': _N_BESIDE_SYNTHIA, 'synthia': _N_SYNTHIA},
        frozenset(('gta', 'synthia')): {'gta': _N_BESIDE_SYNTHIA, 'synthia': _N_SYNTHIA},
        frozenset(('synscapes', 'gta')): {'synscapes': _PERSON_TO_BICYCLE, 'gta': _ROAD_TO_SKY},
        frozenset(SOURCES): {'synscapes': _FOUR_WHEELERS, 'gta': _ROAD_TO_SKY, 'synthia': _N3_PERSONS},
    },
    'f': {frozenset(combo): {source: _ALL for source in combo}
          for size in (2, 3) for combo in itertools.combinations(SOURCES, size)},
}


@dataclass(frozen=True)
class LabelSet:
    """The classes one source is labelled with, and the map between trainIds and its head's channels.

    Args:
        source (str): the source's name, one of ``SOURCES``.
        known (tuple[int]): trainIds the source is labelled with, ascending; all 19 when ``has_other`` is False.
        has_other (bool): whether local index 0 is "other" (settings p, n) or the local index is the trainId
            (setting f).
    """
    source: str
    known: Tuple[int, ...]
    has_other: bool

    def __post_init__(self):
        if self.known != tuple(sorted(set(self.known))) or not all(0 <= k < NUM_CLASSES for k in self.known):
            raise ValueError(f'LabelSet {self.source}: known must be ascending distinct trainIds 0..18, '
                             f'got {self.known}')
        if self.has_other == (len(self.known) == NUM_CLASSES):
            raise ValueError(f'LabelSet {self.source}: an "other" class needs at least one unknown trainId and '
                             f'a set without one must know all {NUM_CLASSES}, got {len(self.known)} known')

    @property
    def num_local(self) -> int:
        """Number of the head's channels: K + 1 with "other", else 19."""
        return len(self.known) + int(self.has_other)

    @property
    def unknown(self) -> Tuple[int, ...]:
        """The trainIds mapped to "other" (empty without one)."""
        return tuple(k for k in range(NUM_CLASSES) if k not in self.known)

    def local_index(self, trainid: int) -> int:
        """The head channel of a trainId: 0 ("other") when unknown, 1 + its rank among the known ones else;
        the trainId itself without "other"."""
        if not 0 <= trainid < NUM_CLASSES:
            raise ValueError(f'local_index expects a trainId 0..{NUM_CLASSES - 1}, got {trainid}')
        if not self.has_other:
            return trainid
        return self.known.index(trainid) + 1 if trainid in self.known else 0

    def lut(self, void: str = 'ignore') -> np.ndarray:
        """Lookup table trainId -> local label, for ``lut[label_map]``.

        Args:
            void (str): what void (255) becomes where there is an "other" class: ``'other'`` maps it to 0, the
                original's stage-0 quirk (its mapped label starts as all zeros, so void source pixels train as
                "other"); ``'ignore'`` keeps 255. Without "other" (setting f) 255 stays 255 either way.

        Returns:
            np.ndarray: [256] uint8. Unknown trainIds map to 0; values 19..254, which are not labels, are
            treated like void.
        """
        if void not in VOID_MODES:
            raise UserError(f'void must be one of {", ".join(VOID_MODES)}, got {void!r}')
        fill = 0 if self.has_other and void == 'other' else IGNORE_INDEX
        table = np.full(256, fill, dtype=np.uint8)
        table[:NUM_CLASSES] = [self.local_index(k) for k in range(NUM_CLASSES)]
        return table

    def to_local(self, labels: torch.Tensor, void: str = 'ignore') -> torch.Tensor:
        """:meth:`lut` applied to a label tensor of any shape (values 0..18 or 255), on the tensor's device.

        Returns:
            Tensor: local labels, the shape and dtype of ``labels``.
        """
        return _lut_tensor(self, void, labels.device)[labels.long()].to(labels.dtype)


@functools.lru_cache(maxsize=64)
def _lut_tensor(label_set: LabelSet, void: str, device: torch.device) -> torch.Tensor:
    # Built once per label set, void mode and device: stages 1 and 2 map every batch for every source.
    return torch.from_numpy(label_set.lut(void)).to(device=device, dtype=torch.long)


def label_sets(setting: str, sources: Sequence[str]) -> Tuple[LabelSet, ...]:
    """The label set of each source, in the order of ``sources``.

    Args:
        setting (str): ``'f'``, ``'p'`` or ``'n'``.
        sources (Sequence[str]): two or three distinct names of ``SOURCES``.

    Returns:
        tuple[LabelSet]: one per source; together they know all 19 classes.
    """
    if setting not in SETTINGS:
        raise UserError(f'unknown union-set label setting {setting!r}: expected one of {", ".join(SETTINGS)}')
    if isinstance(sources, str):
        raise UserError(f'union-set sources must be a list of names, got the string {sources!r}')
    sources = tuple(sources)
    for source in sources:
        if source not in SOURCES:
            raise UserError(f'unknown union-set source {source!r}: expected names from {", ".join(SOURCES)}')
    repeated = sorted({s for s in sources if sources.count(s) > 1})
    if repeated:
        raise UserError(f'union-set sources {list(sources)} repeat {", ".join(repeated)}: each source once')
    if len(sources) < 2:
        raise UserError(f'union-set adaptation needs at least 2 sources, got {list(sources)}')
    table = TABLES[setting].get(frozenset(sources))
    if table is None:
        raise UserError(f'setting {setting!r} defines no label sets for sources {list(sources)}')
    sets = tuple(LabelSet(s, table[s], setting != 'f') for s in sources)
    if set(itertools.chain(*(ls.known for ls in sets))) != set(_ALL):
        raise RuntimeError(f'the label sets of setting {setting!r} for {list(sources)} do not cover all classes')
    return sets
