#!/usr/bin/env python
"""Compute DDB's class prototypes of a teacher checkpoint on the target training images.

    python tools/prototypes.py CONFIG CHECKPOINT [--out FILE] [--epochs 4] [--cap 3000] [--min-pixels 10]

The images are the config's ``stages.prototype_data`` (a DDB config) or, for a self-training config, the target
of its UDA training dataset, through their training pipeline (random crop, flip). The segmentor is the config's
(a UDA config's student architecture) and its weights the checkpoint's ``--which`` sub-model (default: the
student, the model DDB's CKD distils). Writes FILE (default: next to the checkpoint, ``<name>_prototypes.pth``):
the [classes, channels] prototypes, their counts and their provenance (checkpoint, data, settings), as data only.
``run_experiments.py`` computes the same in a DDB pipeline; this command is for a teacher trained on its own.
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tools.segmentor_arguments import SUB_MODELS  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='the experiment config (a DDB config, or the teacher\'s self-training config)')
    p.add_argument('checkpoint', help='the teacher checkpoint')
    p.add_argument('--out', help='prototype file to write (default: <checkpoint name>_prototypes.pth beside it)')
    p.add_argument('--which', choices=SUB_MODELS, default='student', help='sub-model of a UDA checkpoint')
    p.add_argument('--epochs', type=int, default=4, help='passes over the images (DDB: 4)')
    p.add_argument('--min-pixels', type=int, default=10, help='predicted pixels for a class to count (DDB: 10)')
    p.add_argument('--cap', type=int, default=3000, help='cap on the count of each running mean (DDB: 3000)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--workers', type=int, default=2, help='dataloader worker processes')
    p.add_argument('--seed', type=int, default=0, help='seed of the random crops and flips')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--force', action='store_true', help='replace an existing --out')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE', help='override config entries')
    return p.parse_args(argv)


def target_sets(cfg):
    """The prototype images of a config: ``stages.prototype_data``, or its UDA training dataset's target(s)."""
    from daseg.errors import UserError
    stages = cfg.get('stages') or {}
    if stages.get('prototype_data'):
        return list(stages['prototype_data'])
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    target = dataset.get('target')
    if not target:
        raise UserError(f'{cfg.filename}: no stages.prototype_data and no UDA training target '
                        '(train_dataloader.dataset.target) to compute prototypes on')
    return list(target) if isinstance(target, (list, tuple)) else [target]


def prototypes(args):
    import torch
    from mmengine.registry import init_default_scope

    from daseg.cli import load_config, segmentor_config
    from daseg.pipelines.prototypes import compute_prototypes
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    out = args.out or osp.splitext(args.checkpoint)[0] + '_prototypes.pth'
    found = compute_prototypes(segmentor_config(cfg), args.checkpoint, target_sets(cfg), out, epochs=args.epochs,
                               min_pixels=args.min_pixels, cap=args.cap, batch_size=args.batch_size,
                               workers=args.workers, seed=args.seed, overwrite=args.force, which=args.which,
                               device=torch.device(args.device) if args.device else None)
    missing = found['classes_without_prototype']
    print(f'wrote {out} ({found["images"]} images)' + (f'; no prototype for classes {missing}' if missing else ''))
    return found


def main(argv=None):
    return prototypes(parse_args(argv))


if __name__ == '__main__':
    ARGS = parse_args()  # --help and usage errors come before the package loads
    from daseg.cli import run_main
    run_main(lambda: prototypes(ARGS))
