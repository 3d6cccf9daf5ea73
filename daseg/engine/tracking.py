"""Experiment tracking (``run_experiments.py --vis``): mmengine's TensorBoard, Weights & Biases and MLflow
backends added to the config's visualizer, offline unless the user's environment says otherwise.

* ``tensorboard``: event files under ``<work dir>/<timestamp>/vis_data`` (``tensorboard --logdir WORK_DIR``);
* ``wandb``: ``WANDB_MODE`` (default ``offline``: a run folder under ``vis_data``, ``wandb sync`` uploads it);
* ``mlflow``: ``MLFLOW_TRACKING_URI`` (default a file store under ``vis_data``: ``mlflow ui --backend-store-uri``).
"""
import importlib.util
import os
import os.path as osp

from ..errors import UserError

# --vis name -> (the package it needs, pip extra of this project, mmengine backend).
TRACKERS = {
    'tensorboard': ('tensorboard', 'tensorboard', 'TensorboardVisBackend'),
    'wandb': ('wandb', 'wandb', 'WandbVisBackend'),
    'mlflow': ('mlflow', 'mlflow', 'MLflowVisBackend'),
}


def tracker_backend(name: str, experiment: str) -> dict:
    """The ``vis_backends`` entry of tracker ``name``.

    Args:
        name (str): a key of :data:`TRACKERS`.
        experiment (str): the experiment's name (the config's), for W&B and MLflow.

    Raises:
        UserError: an unknown tracker, or its package is not installed.
    """
    if name not in TRACKERS:
        raise UserError(f'--vis takes {", ".join(TRACKERS)}, got {name!r}')
    package, extra, backend = TRACKERS[name]
    if importlib.util.find_spec(package) is None:
        raise UserError(f"--vis {name} needs the {package} package: pip install '.[{extra}]' (or pip install "
                        f'{package})')
    cfg = dict(type=backend)
    if name == 'wandb':
        cfg['init_kwargs'] = dict(mode=os.environ.get('WANDB_MODE', 'offline'), project=experiment)
    elif name == 'mlflow':
        cfg.update(exp_name=experiment, tracking_uri=os.environ.get('MLFLOW_TRACKING_URI'))
    return cfg


def vis_backends_list(visualizer: dict) -> list:
    """The visualizer's ``vis_backends`` as a list of dicts (mmengine takes one dict or a list; a ``--cfg-options``
    value may be a tuple).

    Raises:
        UserError: an entry is not a ``dict(type=...)``.
    """
    backends = visualizer.get('vis_backends') or []
    backends = [backends] if isinstance(backends, dict) else list(backends)
    for i, backend in enumerate(backends):
        if not (isinstance(backend, dict) and backend.get('type')):
            raise UserError(f'visualizer.vis_backends[{i}] must be dict(type=NAME, ...), e.g. '
                            f'dict(type=TensorboardVisBackend), got {backend!r}; or use --vis {"|".join(TRACKERS)}')
    return [dict(b) for b in backends]


def configure_tracking(cfg, names) -> None:
    """Add the backends of the trackers ``names`` (``--vis``) to ``cfg.visualizer``, once each."""
    if not names:
        return
    experiment = osp.splitext(osp.basename(cfg.filename or 'experiment'))[0]
    visualizer = dict(cfg.get('visualizer') or dict(type='SegLocalVisualizer', name='visualizer'))
    backends = vis_backends_list(visualizer)
    present = {b.get('type') for b in backends}
    for name in dict.fromkeys(names):
        backend = tracker_backend(name, experiment)
        if backend['type'] not in present:
            backends.append(backend)
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer
