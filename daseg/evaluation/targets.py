"""The evaluation targets of a config (``eval_targets``): choosing them, checking them, loading them."""
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader

from ..errors import UserError
from .splits import to_test_split


def select_targets(cfg, names, test_set=False):
    """The chosen targets' dataset configs, in the order asked (all, in the config's order, by default).

    Args:
        cfg (mmengine.Config): with ``eval_targets`` (target name -> dataset config).
        names (Sequence[str] | None): target names.
        test_set (bool): their test splits instead, without labels (see :mod:`daseg.evaluation.splits`).

    Returns:
        dict[str, dict]: target name -> dataset config.
    """
    available = dict(cfg.get('eval_targets') or {})
    if not available:
        raise UserError('the config defines no eval_targets (dict of target name -> dataset config)')
    unknown = [n for n in names or [] if n not in available]
    if unknown:
        raise UserError(f'unknown target {", ".join(unknown)}; available: {", ".join(available)}')
    chosen = {n: available[n] for n in (names or available)}
    return {n: to_test_split(n, ds) for n, ds in chosen.items()} if test_set else chosen


def is_labelled(name, pipeline):
    """Whether a target's pipeline loads labels; labels are compared at their original resolution, so no
    resize may follow the annotation loading."""
    types = [str(t.get('type', '')) for t in pipeline]
    load = next((i for i, t in enumerate(types) if 'LoadAnnotations' in t), None)
    if load is None:
        return False
    if any('Resize' in t for t in types[load + 1:]):
        raise UserError(f'target {name}: its pipeline resizes after {types[load]}; labels are evaluated at '
                        'their original resolution, so load annotations after the resize')
    return True


def check_loader_options(workers, batch_size):
    """``--workers`` and ``--batch-size`` of the evaluation commands, checked before any work."""
    if workers < 0:
        raise UserError(f'--workers must be 0 or more, got {workers}')
    if batch_size < 1:
        raise UserError(f'--batch-size must be 1 or more, got {batch_size}')


def build_dataloader(name, dataset_cfg, workers, batch_size=1):
    """A dataloader over a target's dataset, in order, ``batch_size`` images per batch."""
    # Not serialised: mmengine then runs gc.collect() for every dataset it builds, which in a process holding
    # models costs more than the evaluation of a small target (tools/merge_table.py builds them per merge).
    try:
        dataset = DATASETS.build({'serialize_data': False, **dataset_cfg})
    except (OSError, KeyError) as exc:
        raise UserError(f'target {name}: cannot build its dataset: {" ".join(str(exc).split())}') from None
    if len(dataset) == 0:
        raise UserError(f'target {name}: no images found (data_root {dataset_cfg.get("data_root")})')
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=pseudo_collate)


def check_classes(model, loaders):
    """Every target must use the model's classes; returns the class names."""
    names = None
    for target, loader in loaders.items():
        classes = list(loader.dataset.metainfo['classes'])
        names = names or classes
        if classes != names:
            raise UserError(f'target {target} has other classes than {next(iter(loaders))}')
    # The segmentor's classes (those it predicts), which a union-set model's heads each know only part of.
    num_classes = getattr(model, 'num_classes', None) or getattr(model.decode_head, 'num_classes', len(names))
    if num_classes != len(names):
        raise UserError(f'the model predicts {num_classes} classes, the targets have {len(names)}')
    return names
