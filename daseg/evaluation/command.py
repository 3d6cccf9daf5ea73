"""The evaluation command behind ``test.sh`` / ``tools/test.py``: checkpoints x targets -> metrics, reports,
and optionally pictures, raw predictions (``--pred-dir``), test-split predictions (``--test-set``) and
test-time augmentation (``--tta``)."""
import contextlib
import os
import os.path as osp
import time

import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from ..errors import UserError
from ..locks import fresh_output_folder
from ..weights import find_latest_checkpoint, load_segmentor_weights
from .loop import evaluate_target
from .report import checkpoint_label, format_console, write_reports
from .summary import summarize_targets, target_result
from .targets import build_dataloader, check_classes, check_loader_options, is_labelled, select_targets

# Checkpoint meta entries copied into results.json.
_META_KEYS = ('iter', 'epoch', 'seed', 'experiment_name', 'exp_name', 'time')


def resolve_checkpoints(checkpoints, config, work_dir):
    """The checkpoints given, or a work dir's last one; each must exist."""
    if not checkpoints:
        if work_dir is None:
            raise UserError(f'no checkpoint given: pass checkpoints after {config}, or a work dir instead')
        checkpoints = [find_latest_checkpoint(work_dir)]
    for path in checkpoints:
        if not osp.isfile(path):
            raise UserError(f'checkpoint not found: {path}')
    return list(checkpoints)


def default_out_dir(base):
    """``<base>/eval_<timestamp>``, made unique with a suffix so that no earlier evaluation is touched."""
    out = osp.join(base, time.strftime('eval_%Y%m%d_%H%M%S'))
    candidate, n = out, 1
    while osp.exists(candidate):
        candidate, n = f'{out}_{n}', n + 1
    return candidate


def build_model(model_cfg, device):
    """The segmentor of ``model_cfg`` (see ``daseg.cli.segmentor_config``) on ``device``, in eval mode."""
    model = revert_sync_batchnorm(MODELS.build(model_cfg))  # SyncBN needs a process group
    return model.to(device).eval()


def _per_checkpoint(root, index, label, several):
    """An output folder of one checkpoint: the folder itself, or a numbered subfolder when there are several."""
    if root and several:
        return osp.join(root, f'{index + 1}_{osp.splitext(label)[0].replace(os.sep, "_")}')
    return root


def evaluate_checkpoints(cfg, model_cfg, checkpoints, device, targets=None, which='student', hrda_out=None,
                         workers=2, show_dir=None, pred_dir=None, tta=False, test_set=False, config=None,
                         batch_size=1):
    """Evaluate checkpoints on the config's targets.

    Args:
        cfg (mmengine.Config): with ``eval_targets``.
        model_cfg (dict): the segmentor to build (``daseg.cli.segmentor_config(cfg)``).
        checkpoints (Sequence[str]): checkpoint files.
        device (torch.device): where to run.
        targets (Sequence[str] | None): target names (default: all).
        which (str): sub-model of UDA checkpoints (``daseg.weights.EVALUABLE``).
        hrda_out (str | None): HRDA output: 'fused', 'lr', 'hr' or 'att'.
        workers (int): dataloader worker processes per target.
        show_dir, pred_dir (str | None): folders for pictures and for raw trainId predictions
            (``<dir>/<target>/``; ``<dir>/<n>_<checkpoint>/<target>/`` with several checkpoints).
        tta (bool): multi-scale + flip test-time augmentation.
        test_set (bool): the targets' test splits, predicted without labels.
        config (str | None): recorded in the results.
        batch_size (int): images per forward pass (those of one size in a batch go together); the metrics do
            not depend on it beyond floating-point rounding.

    Returns:
        dict: the results (see :mod:`daseg.evaluation.report`); ``targets`` lists the labelled targets,
        ``predicted_only`` the others.
    """
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    chosen = select_targets(cfg, targets, test_set)
    labelled = {name: is_labelled(name, dataset.get('pipeline', [])) for name, dataset in chosen.items()}
    unlabelled = [name for name, has_labels in labelled.items() if not has_labels]
    if unlabelled and not (pred_dir or show_dir):
        raise UserError(f'target {", ".join(unlabelled)} has no labels (its pipeline loads no annotations), so '
                        'there is no metric to compute: pass --pred-dir DIR to write its predictions')
    for name in unlabelled:
        print(f'target {name}: no labels, predictions only (no metric)')
    model = build_model(model_cfg, device)
    if hrda_out:
        if not hasattr(model.decode_head, 'forward_outputs'):
            raise UserError('--hrda-out needs an HRDA model (decode_head type HRDAHead)')
        if tta and hrda_out == 'att':
            raise UserError('--tta averages class probabilities, --hrda-out att outputs the scale attention: '
                            'use one of them')
        model.decode_head.output = hrda_out
    loaders = {name: build_dataloader(name, dataset, workers, batch_size) for name, dataset in chosen.items()}
    classes = check_classes(model, loaders)
    classes16 = bool(cfg.get('eval_classes16', False))
    entries = []
    for index, checkpoint in enumerate(checkpoints):
        meta = load_segmentor_weights(model, checkpoint, which)
        label = checkpoint_label(checkpoint)
        show_root, pred_root = (_per_checkpoint(root, index, label, len(checkpoints) > 1)
                                for root in (show_dir, pred_dir))
        results = {}
        for name, loader in loaders.items():
            matrix, count = evaluate_target(model, loader, len(classes), show_root and osp.join(show_root, name),
                                            f'{label} on {name}', pred_root and osp.join(pred_root, name), tta)
            if labelled[name]:
                results[name] = target_result(matrix, classes, classes16, count)
        entry = {'checkpoint': checkpoint, 'label': label,
                 'meta': {k: meta[k] for k in _META_KEYS if isinstance(meta.get(k), (int, float, str))},
                 'targets': results}
        entry.update(summarize_targets(results))
        entries.append(entry)
    return {'config': config, 'which': which, 'device': str(device), 'unit': 'percent', 'tta': bool(tta),
            'created': time.strftime('%Y-%m-%d %H:%M:%S'), 'classes': classes,
            'targets': [n for n in chosen if labelled[n]], 'predicted_only': unlabelled, 'checkpoints': entries}


def run_test(cfg, model_cfg, config, work_dir=None, checkpoints=(), out=None, device=None, targets=None,
             which='student', hrda_out=None, workers=2, show_dir=None, pred_dir=None, tta=False, test_set=False,
             batch_size=1):
    """The whole command: evaluate, print the tables, write the reports.

    Args:
        cfg (mmengine.Config): the loaded config (``--cfg-options`` applied).
        model_cfg (dict): its segmentor (``daseg.cli.segmentor_config(cfg)``).
        config (str): the config or work dir as the user named it, for messages and the results.
        work_dir (str | None): the training work dir the config came from.
        checkpoints (Sequence[str]): checkpoints; default with a work dir: its last one.
        out (str | None): the reports' folder (default: ``<work dir or checkpoint folder>/eval_<timestamp>``).
        device (str | None): 'cpu' or 'cuda' (default: cuda when available).
        targets, which, hrda_out, workers, show_dir, pred_dir, tta, test_set, batch_size: see
            :func:`evaluate_checkpoints`.

    Returns:
        tuple[dict, str | None]: the results and the folder of the reports (None when no target had labels).
    """
    checkpoints = resolve_checkpoints(checkpoints, config, work_dir)
    check_loader_options(workers, batch_size)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda: no CUDA device is available')
    out_dir = out or default_out_dir(work_dir or osp.dirname(osp.abspath(checkpoints[0])))
    # The output folders are claimed before the evaluation: a folder that cannot be written, or one that
    # another evaluation writes to, stops here instead of after the whole evaluation.
    with contextlib.ExitStack() as claimed:
        for option, folder in (('--out', out_dir), ('--show-dir', show_dir), ('--pred-dir', pred_dir)):
            if folder:
                claimed.enter_context(fresh_output_folder(folder, option, 'test.sh'))
        results = evaluate_checkpoints(cfg, model_cfg, checkpoints, torch.device(device), targets, which, hrda_out,
                                       workers, show_dir, pred_dir, tta, test_set, config, batch_size)
        if pred_dir:
            print(f'predictions (trainIds) written to {pred_dir}')
        if not results['targets']:
            print('no target has labels: no metric computed, no report written')
            return results, None
        print(format_console(results))
        paths = write_reports(results, out_dir)
    print(f'results written to {out_dir}: ' + ', '.join(osp.basename(p) for p in paths))
    return results, out_dir
