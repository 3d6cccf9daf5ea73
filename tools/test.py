#!/usr/bin/env python
"""Evaluate one or more checkpoints on one or more target datasets.

    ./test.sh work_dirs/my_run                                  # its last checkpoint on every eval target
    ./test.sh CONFIG a.pth b.pth --targets cityscapes idd --show-dir preds

Prints per-class IoU and a summary (mIoU per target, mean, harmonic mean H) and writes results.json,
results.csv, results.md and the comparison of the checkpoints (comparison.csv, comparison.md, and the bar
chart comparison.png) to --out.
"""
import argparse
import contextlib
import os
import os.path as osp
import sys
import time
# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# Importing daseg also registers the project's datasets and models in mmseg's registries.
from daseg.weights import EVALUABLE, find_latest_checkpoint, load_segmentor_weights  # noqa: E402
from daseg.cli import find_config, load_config, run_main, segmentor_config  # noqa: E402
from daseg.errors import UserError  # noqa: E402
from daseg.locks import fresh_output_folder  # noqa: E402

# Checkpoint meta entries copied into results.json.
_META_KEYS = ('iter', 'epoch', 'seed', 'experiment_name', 'exp_name', 'time')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', metavar='CONFIG_OR_WORK_DIR',
                   help='a config .py, or a training work dir holding its dumped config')
    p.add_argument('checkpoints', nargs='*', metavar='CHECKPOINT',
                   help="checkpoints to evaluate (default with a work dir: its last checkpoint)")
    p.add_argument('--targets', nargs='+', metavar='NAME', help="names in the config's eval_targets (default: all)")
    p.add_argument('--show-dir', help='write image | ground truth | prediction PNGs to DIR/<target>/')
    p.add_argument('--out', help='folder for results.json/.csv/.md (default: <work dir or checkpoint folder>/'
                                 'eval_<timestamp>)')
    p.add_argument('--eval-model', '--which', dest='which', choices=list(EVALUABLE), default='student',
                   help='sub-model of a UDA checkpoint to evaluate')
    p.add_argument('--hrda-out', choices=['fused', 'lr', 'hr', 'att'],
                   help='HRDA models: evaluate the fused prediction (default), the context (lr) or detail (hr) '
                        'branch alone, or output the scale attention (att, for --show-dir)')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--workers', type=int, default=2, help='dataloader worker processes per target')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override existing config entries, e.g. eval_targets.cityscapes.data_root=/data/cs')
    return p.parse_args(argv)


def resolve_checkpoints(args, work_dir):
    if args.checkpoints:
        checkpoints = args.checkpoints
    elif work_dir is not None:
        checkpoints = [find_latest_checkpoint(work_dir)]
    else:
        raise UserError(f'no checkpoint given: pass checkpoints after {args.config}, or a work dir instead')
    for path in checkpoints:
        if not osp.isfile(path):
            raise UserError(f'checkpoint not found: {path}')
    return checkpoints


def default_out_dir(base):
    """``<base>/eval_<timestamp>``, made unique with a suffix so that no earlier evaluation is touched."""
    out = osp.join(base, time.strftime('eval_%Y%m%d_%H%M%S'))
    candidate, n = out, 1
    while osp.exists(candidate):
        candidate, n = f'{out}_{n}', n + 1
    return candidate


def select_targets(cfg, names):
    available = dict(cfg.get('eval_targets') or {})
    if not available:
        raise UserError('the config defines no eval_targets (dict of target name -> dataset config)')
    unknown = [n for n in names or [] if n not in available]
    if unknown:
        raise UserError(f'unknown target {", ".join(unknown)}; available: {", ".join(available)}')
    return {n: available[n] for n in (names or available)}


def build_model(cfg, device):
    from mmengine.model import revert_sync_batchnorm
    from mmseg.registry import MODELS
    model = revert_sync_batchnorm(MODELS.build(segmentor_config(cfg)))  # SyncBN needs a process group
    return model.to(device).eval()


def check_label_resolution(name, pipeline):
    """Labels are compared at their original resolution: no resize may follow the annotation loading."""
    types = [str(t.get('type', '')) for t in pipeline]
    load = next((i for i, t in enumerate(types) if 'LoadAnnotations' in t), None)
    if load is None:
        raise UserError(f'target {name}: its pipeline loads no annotations (LoadAnnotations)')
    if any('Resize' in t for t in types[load + 1:]):
        raise UserError(f'target {name}: its pipeline resizes after {types[load]}; labels are evaluated at '
                        'their original resolution, so load annotations after the resize')


def build_dataloader(name, dataset_cfg, workers):
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS
    from torch.utils.data import DataLoader
    check_label_resolution(name, dataset_cfg.get('pipeline', []))
    try:
        dataset = DATASETS.build(dataset_cfg)
    except (OSError, KeyError) as exc:
        raise UserError(f'target {name}: cannot build its dataset: {" ".join(str(exc).split())}') from None
    if len(dataset) == 0:
        raise UserError(f'target {name}: no images found (data_root {dataset_cfg.get("data_root")})')
    return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=workers, collate_fn=pseudo_collate)


def check_classes(model, loaders):
    """Every target must use the model's classes; returns the class names."""
    names = None
    for target, loader in loaders.items():
        classes = list(loader.dataset.metainfo['classes'])
        names = names or classes
        if classes != names:
            raise UserError(f'target {target} has other classes than {next(iter(loaders))}')
    num_classes = getattr(model.decode_head, 'num_classes', len(names))
    if num_classes != len(names):
        raise UserError(f'the model predicts {num_classes} classes, the targets have {len(names)}')
    return names


def evaluate(args, cfg, checkpoints, device):
    from mmengine.registry import init_default_scope
    from mmseg.utils import register_all_modules

    from daseg.evaluation import checkpoint_label, evaluate_target, summarize_targets, target_result

    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    targets = select_targets(cfg, args.targets)
    model = build_model(cfg, device)
    if args.hrda_out:
        if not hasattr(model.decode_head, 'forward_outputs'):
            raise UserError('--hrda-out needs an HRDA model (decode_head type HRDAHead)')
        model.decode_head.output = args.hrda_out
    loaders = {name: build_dataloader(name, ds, args.workers) for name, ds in targets.items()}
    classes = check_classes(model, loaders)
    classes16 = bool(cfg.get('eval_classes16', False))
    entries = []
    for index, checkpoint in enumerate(checkpoints):
        meta = load_segmentor_weights(model, checkpoint, args.which)
        label = checkpoint_label(checkpoint)
        show_root = args.show_dir
        if show_root and len(checkpoints) > 1:
            show_root = osp.join(show_root, f'{index + 1}_{osp.splitext(label)[0].replace(os.sep, "_")}')
        results = {}
        for name, loader in loaders.items():
            show_dir = osp.join(show_root, name) if show_root else None
            matrix, count = evaluate_target(model, loader, len(classes), show_dir, title=f'{label} on {name}')
            results[name] = target_result(matrix, classes, classes16, count)
        entry = {'checkpoint': checkpoint, 'label': label,
                 'meta': {k: meta[k] for k in _META_KEYS if isinstance(meta.get(k), (int, float, str))},
                 'targets': results}
        entry.update(summarize_targets(results))
        entries.append(entry)
    return {'config': args.config, 'which': args.which, 'device': str(device), 'unit': 'percent',
            'created': time.strftime('%Y-%m-%d %H:%M:%S'), 'classes': classes, 'targets': list(targets),
            'checkpoints': entries}


def main(argv=None):
    """Run the evaluation; returns the results dict (see daseg.evaluation.report) and the output folder."""
    import torch
    args = parse_args(argv)
    _, work_dir = find_config(args.config)
    checkpoints = resolve_checkpoints(args, work_dir)
    if args.workers < 0:
        raise UserError(f'--workers must be 0 or more, got {args.workers}')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda: no CUDA device is available')
    cfg = load_config(args.config, args.cfg_options)
    out_dir = args.out or default_out_dir(work_dir or osp.dirname(osp.abspath(checkpoints[0])))
    # The output folders are claimed before the evaluation: a folder that cannot be written, or one that
    # another evaluation writes to, stops here instead of after the whole evaluation.
    with contextlib.ExitStack() as claimed:
        claimed.enter_context(fresh_output_folder(out_dir, '--out', 'test.sh'))
        if args.show_dir:
            claimed.enter_context(fresh_output_folder(args.show_dir, '--show-dir', 'test.sh'))
        results = evaluate(args, cfg, checkpoints, torch.device(device))

        from daseg.evaluation import format_console, write_reports
        print(format_console(results))
        paths = write_reports(results, out_dir)
    print(f'results written to {out_dir}: ' + ', '.join(osp.basename(p) for p in paths))
    return results, out_dir


if __name__ == '__main__':
    run_main(main)
