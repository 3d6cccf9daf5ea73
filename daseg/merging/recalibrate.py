"""Re-estimating the BatchNorm statistics of a merged model on unlabelled images (``merge.py --recalibrate-bn``).

The one step of merging that uses data, off by default: each image goes through the model as in evaluation
(the config's test preprocessing and inference), with the BatchNorm layers normalising by the batch and
accumulating a cumulative average (momentum None) from reset statistics. Labels are never read.
"""
import os
import os.path as osp
import time

import torch

from ..errors import UserError
from ..weights import check_fits

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def list_images(folders, per_folder=None):
    """The images under each folder (recursively, sorted); at most ``per_folder`` of each, evenly spaced.

    Returns:
        list[tuple[str, list[str]]]: (folder, its images) per folder.
    """
    found = []
    for folder in folders:
        if not osp.isdir(folder):
            raise UserError(f'--recalibrate-bn: {folder} is not a folder')
        images = sorted(osp.join(root, name) for root, _, names in os.walk(folder) for name in names
                        if name.lower().endswith(IMAGE_EXTENSIONS))
        if not images:
            raise UserError(f'--recalibrate-bn: no images ({", ".join(IMAGE_EXTENSIONS)}) under {folder}')
        if per_folder is not None and len(images) > per_folder:
            images = [images[i * len(images) // per_folder] for i in range(per_folder)]
        found.append((folder, images))
    return found


def test_pipeline(cfg):
    """The config's test preprocessing (``test_dataloader``, else its first eval target) without labels."""
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline')
    if not pipeline and cfg.get('eval_targets'):
        pipeline = next(iter(cfg.eval_targets.values())).get('pipeline')
    if not pipeline:
        raise UserError('--recalibrate-bn: the config has no test_dataloader or eval_targets pipeline to '
                        'preprocess the images with')
    return [dict(t) for t in pipeline if 'LoadAnnotations' not in str(t.get('type', ''))]


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


class Recalibrator:
    """Builds the segmentor once and re-estimates the BatchNorm statistics of state dicts.

    Args:
        model_cfg (dict): the segmentor's config (``daseg.cli.segmentor_config`` of the models' config).
        pipeline (list[dict]): the test preprocessing without labels, see :func:`test_pipeline`.
        folders (list[str]): folders of unlabelled images.
        per_folder (int | None): at most this many images of each folder.
        scope (str): the config's ``default_scope``.
        device (str | None): default cuda when available.
    """

    def __init__(self, model_cfg, pipeline, folders, per_folder=None, scope='mmseg', device=None):
        from mmcv.transforms import Compose
        from mmengine.model import revert_sync_batchnorm
        from mmengine.registry import init_default_scope
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules

        self.folders = list_images(folders, per_folder)
        register_all_modules(init_default_scope=False)
        init_default_scope(scope)
        self.pipeline_types = [str(t.get('type')) for t in pipeline]
        self.pipeline = Compose(pipeline)
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.model = revert_sync_batchnorm(MODELS.build(model_cfg)).to(device)
        if not _batchnorms(self.model):
            raise UserError('--recalibrate-bn: the config\'s model has no BatchNorm layer')

    def record(self):
        """dict: what the output's meta records about the data used."""
        return {'what': 'BatchNorm statistics re-estimated on target images (no labels)',
                'folders': [{'path': osp.abspath(f), 'images': len(images)} for f, images in self.folders],
                'preprocessing': self.pipeline_types}

    def __call__(self, state_dict, label, log=print):
        """The BatchNorm statistics of ``state_dict`` (a segmentor's ``backbone.*``, ... keys) re-estimated.

        Returns:
            dict[str, Tensor]: the ``running_mean``, ``running_var`` and ``num_batches_tracked`` entries.
        """
        from mmengine.dataset import pseudo_collate
        model = self.model
        check_fits(model.state_dict(), state_dict, f'--recalibrate-bn: the merged {label} does not fit the '
                                                   "config's model (another architecture?)")
        model.load_state_dict(state_dict, strict=True)
        model.eval()
        for bn in _batchnorms(model):
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average over all images
            bn.train()  # normalise by the image's statistics, as in training; dropout stays off
        total = sum(len(images) for _, images in self.folders)
        start, done = time.perf_counter(), 0
        with torch.no_grad():
            for _, images in self.folders:
                for path in images:
                    try:
                        model.test_step(pseudo_collate([self.pipeline({'img_path': path})]))
                    except ValueError as exc:
                        raise UserError(f'--recalibrate-bn: {path}: {" ".join(str(exc).split())}') from None
                    done += 1
                    if done % 50 == 0 or done == total:
                        elapsed = time.perf_counter() - start
                        log(f'recalibrating {label} [{done}/{total}] elapsed {elapsed:.1f} s, '
                            f'ETA {elapsed / done * (total - done):.1f} s')
        model.eval()
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                if k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))}
