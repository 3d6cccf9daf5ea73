"""Several datasets of one role (source or target) of `UDADataset`, drawn as one: over their concatenation
(DDB's `UDAConcatDataset`: a draw proportional to the sizes) or with equal shares per domain."""
import numpy as np
from mmseg.registry import DATASETS

from ..errors import UserError

# 'concat': one uniform draw over the concatenation (each domain in proportion to its size), as DDB does;
# 'balanced': first a domain uniformly, then an item uniformly in it.
DOMAIN_SAMPLING = ('concat', 'balanced')


def _build(dataset, role):
    dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
    if len(dataset) == 0:
        root = getattr(dataset, 'data_root', None)
        raise UserError(f"UDADataset: the {role} dataset {type(dataset).__name__} (data_root '{root}') has no "
                        'samples')
    return dataset


def sampling_modes(domain_sampling):
    """The (source, target) modes of `UDADataset(domain_sampling=...)`: one mode for both, or a dict with keys
    `source` and/or `target` (a missing one is 'concat')."""
    modes = domain_sampling if isinstance(domain_sampling, dict) else dict(source=domain_sampling,
                                                                           target=domain_sampling)
    unknown = sorted(set(modes) - {'source', 'target'})
    if unknown:
        raise UserError(f'UDADataset: unknown domain_sampling key(s) {", ".join(map(str, unknown))}; expected '
                        'source and/or target')
    for role in ('source', 'target'):
        mode = modes.get(role, 'concat')
        if mode not in DOMAIN_SAMPLING:
            raise UserError(f'UDADataset: domain_sampling for the {role} must be one of {", ".join(DOMAIN_SAMPLING)}, '
                            f'got {mode!r}')
    return modes.get('source', 'concat'), modes.get('target', 'concat')


class DomainSet:
    """The datasets of one role, indexed as their concatenation.

    Args:
        datasets (dict | Dataset | Sequence[dict | Dataset]): one config (built through DATASETS) or instance, or a
            list of them (one per domain).
        role (str): 'source' or 'target', named in messages.
        sampling (str): `DOMAIN_SAMPLING` mode of :meth:`draw`. Default 'concat'.

    Attributes:
        datasets (list): the built datasets, in the given order (domain k = datasets[k]).
        several (bool): whether a list was given (the items then tell their domain).
        ends (np.ndarray): cumulative sizes, int64 [num_domains].
    """

    def __init__(self, datasets, role, sampling='concat'):
        self.several = isinstance(datasets, (list, tuple))
        if self.several and not datasets:
            raise UserError(f'UDADataset: {role} is an empty list; give one dataset or several')
        self.datasets = [_build(d, role) for d in (datasets if self.several else [datasets])]
        self.role = role
        self.sampling = sampling
        self.ends = np.cumsum([len(d) for d in self.datasets])

    def __len__(self):
        return int(self.ends[-1])

    def name(self, k):
        """How messages name domain k, e.g. 'source 1 (SynscapesDataset)' or 'target (CityscapesDataset)'."""
        number = f' {k}' if self.several else ''
        return f'{self.role}{number} ({type(self.datasets[k]).__name__})'

    def locate(self, index):
        """The (domain, index in it) of an index into the concatenation."""
        k = int(np.searchsorted(self.ends, index, side='right'))
        return k, int(index - (self.ends[k - 1] if k else 0))

    def draw(self):
        """A random (domain, index in it) by the sampling mode (numpy's global generator).

        'concat' (or a single dataset) makes one draw, `np.random.randint(len(self))`, so a single dataset is drawn
        exactly as without this class; 'balanced' draws the domain, then the index in it.
        """
        if self.sampling == 'concat' or len(self.datasets) == 1:
            return self.locate(np.random.randint(len(self)))
        k = np.random.randint(len(self.datasets))
        return int(k), int(np.random.randint(len(self.datasets[k])))

    def visit(self, index):
        """The (domain, index in it) of the source at stream index `index` (the per-pass permutation's): 'concat'
        (or a single dataset) locates it in the concatenation; 'balanced' ignores it and draws."""
        if self.sampling == 'concat' or len(self.datasets) == 1:
            return self.locate(index)
        return self.draw()

    def load(self, k, index):
        """Load sample `index` of domain k, :meth:`mark`-ed."""
        return self.mark(self.datasets[k][index], k)

    def mark(self, sample, k):
        """A packed sample of domain k; with a list of datasets its data sample records k (metainfo 'domain')."""
        if self.several:
            sample['data_samples'].set_metainfo(dict(domain=k))
        return sample


def check_same_classes(*domain_sets):
    """One clear error unless every dataset that names its classes names the same ones (in the same order); a
    dataset without classes (e.g. an unlabelled image folder) is not compared."""
    first = None
    for domains in domain_sets:
        for k, dataset in enumerate(domains.datasets):
            classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
            if not classes:
                continue
            classes = tuple(classes)
            if first is None:
                first = (domains.name(k), classes)
            elif classes != first[1]:
                raise UserError(f'UDADataset: {domains.name(k)} and {first[0]} label different classes '
                                f'({_difference(classes, first[1])}); all source and target datasets must label the '
                                'same classes')


def _difference(classes, reference):
    """Where two class lists first differ, for a message."""
    if len(classes) != len(reference):
        return f'{len(classes)} vs {len(reference)} classes'
    i = next(i for i, (a, b) in enumerate(zip(classes, reference)) if a != b)
    return f'class {i} is {classes[i]!r} vs {reference[i]!r}'
