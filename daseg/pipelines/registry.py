"""The registry of multi-stage methods: a config's ``stages = dict(type=<name>, ...)`` names one, whose
``stages(cfg, select)`` returns the :class:`~daseg.pipelines.runner.Stage` list that ``run_experiments.py`` runs."""
from mmengine.registry import Registry

from ..errors import UserError

PIPELINES = Registry('pipeline')


def build_stages(cfg, select=False):
    """The stages of a config's ``stages`` entry.

    Args:
        cfg (mmengine.Config): the experiment config.
        select (bool): keep each training stage's best checkpoint on the target's val labels.
    """
    spec = dict(cfg.stages)
    kind = spec.pop('type', None)
    builder = PIPELINES.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise UserError(f"stages.type must name a pipeline ({', '.join(PIPELINES.module_dict)}), got {kind!r}")
    try:
        pipeline = builder(**spec)
    except TypeError as exc:
        raise UserError(f'stages ({kind}): {exc}') from None
    return pipeline.stages(cfg, select)
