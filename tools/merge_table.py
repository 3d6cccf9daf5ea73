#!/usr/bin/env python
"""Merge every subset of the per-target models and evaluate each on every target: the merging paper's table.

    python tools/merge_table.py CONFIG cs.pth idd.pth acdc.pth dz.pth \\
        --targets cityscapes idd acdc darkzurich --out work_dirs/table
    python tools/merge_table.py CONFIG cs.pth idd.pth acdc.pth dz.pth --params ties --base src.pth --out DIR

For K models: the K singles and the 2^K - K - 1 merges (merge.py's rules and options), each evaluated on the
targets (test.sh's evaluation). Writes DIR/table.md, DIR/table.csv and DIR/heatmap.png; the merged models go
to DIR/checkpoints/, the evaluations to DIR/cache/, so that a rerun (after an interruption, or with more
targets) evaluates only what is missing. The k-th model is named after the k-th target when there are as many
targets as models (--names otherwise).
"""
import argparse
import os
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# merge.py's merge options (one definition), importable without torch.
from merge import add_merge_arguments, recalibrator  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='config of the models: its segmentor and eval_targets')
    p.add_argument('checkpoints', nargs='+', metavar='CKPT', help='two or more per-target checkpoints')
    p.add_argument('--out', required=True, help='folder of the table, its merged models and cached evaluations')
    p.add_argument('--targets', nargs='+', metavar='NAME', help="names in the config's eval_targets (default: all)")
    p.add_argument('--names', nargs='+', metavar='NAME', help='one short name per checkpoint (default: the targets, '
                                                              'when as many; else the checkpoint folders)')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--workers', type=int, default=2, help='dataloader worker processes per target')
    p.add_argument('--batch-size', type=int, default=1, help="images per forward pass, as test.sh's")
    add_merge_arguments(p, config_option=False)
    return p.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.atomic import atomic_write_text  # noqa: E402
from daseg.cli import find_config, load_config, run_main, segmentor_config  # noqa: E402
from daseg.errors import UserError  # noqa: E402
from daseg.evaluation import check_loader_options, evaluate_checkpoints, select_targets  # noqa: E402
from daseg.locks import folder_lock  # noqa: E402
from daseg.merging.arguments import merge_kwargs  # noqa: E402
from daseg.merging.inputs import check_distinct, sha256_of  # noqa: E402
from daseg.merging.merger import Progress, merge_checkpoints  # noqa: E402
from daseg.merging.table import (EvaluationCache, cache_key, check_names, heatmap, markdown, subset_label,  # noqa: E402
                                 subsets, table_rows, write_csv)


def _names(args, targets):
    if args.names:
        if len(args.names) != len(args.checkpoints):
            raise UserError(f'--names: {len(args.names)} given for {len(args.checkpoints)} checkpoints')
        return check_names(args.names)
    if len(targets) == len(args.checkpoints):
        return check_names(targets)
    folders = [osp.basename(osp.dirname(osp.abspath(p))) for p in args.checkpoints]
    try:
        return check_names(folders)
    except UserError:
        raise UserError('name the checkpoints with --names (their folders do not give distinct names)') from None


def _quiet(line):
    if line.startswith('note:'):
        print(line)


def main(argv=None):
    import torch
    args = parse_args(argv)
    config, _ = find_config(args.config)
    if len(args.checkpoints) < 2:
        raise UserError(f'the table needs at least 2 checkpoints, got {len(args.checkpoints)}')
    check_loader_options(args.workers, args.batch_size)
    if osp.exists(args.out) and not osp.isdir(args.out):
        raise UserError(f'--out {args.out} is a file; name a folder')
    for path in args.checkpoints:
        if not osp.isfile(path):
            raise UserError(f'checkpoint not found: {path}')
    check_distinct(args.checkpoints)
    cfg = load_config(config)
    targets = list(select_targets(cfg, args.targets))
    names = _names(args, targets)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    merge_options = merge_kwargs(args)
    recalibrate = recalibrator(args, config if args.recalibrate_bn else None)
    with folder_lock(args.out, 'tools/merge_table.py'):
        os.makedirs(osp.join(args.out, 'checkpoints'), exist_ok=True)
        cache = EvaluationCache(osp.join(args.out, 'cache'))
        hashes = [sha256_of(p) for p in args.checkpoints]
        check_distinct(args.checkpoints, hashes)
        base = merge_options['base']
        described = {**merge_options, 'base': sha256_of(base) if base and osp.isfile(base) else base,
                     'recalibrate': recalibrate and recalibrate.record()}
        common = {'config': osp.abspath(config), 'config_sha256': sha256_of(config), 'targets': targets,
                  'evaluated': 'student'}
        keys = {s: cache_key({**common, 'inputs': [hashes[i] for i in s], 'merge': described if len(s) > 1 else None})
                for s in subsets(len(names))}
        todo = [s for s in keys if cache.get(subset_label(names, s), keys[s]) is None]
        print(f'{len(keys)} rows: {len(keys) - len(todo)} cached, {len(todo)} to evaluate on {", ".join(targets)}')
        progress = Progress('table', max(1, len(todo)), print)
        for done, subset in enumerate(todo, 1):
            label = subset_label(names, subset)
            checkpoint = args.checkpoints[subset[0]]
            if len(subset) > 1:
                checkpoint = osp.join(args.out, 'checkpoints', f'{label}.pth')
                merge_checkpoints([args.checkpoints[i] for i in subset], checkpoint, force=True, log=_quiet,
                                  recalibrate=recalibrate, **merge_options)
            entry = evaluate_checkpoints(cfg, segmentor_config(cfg), [checkpoint], torch.device(device), targets,
                                         workers=args.workers, config=config,
                                         batch_size=args.batch_size)['checkpoints'][0]
            cache.put(label, keys[subset], entry)
            progress.step(done, f'{label}: mean {entry["mean"]["mIoU"]:.2f}, H {entry["harmonic_mean"]["mIoU"]:.2f}')
        rows = [(s, cache.get(subset_label(names, s), keys[s])) for s in keys]
        header, table = table_rows(names, targets, rows)
        text = markdown(header, table, len(names))
        atomic_write_text(osp.join(args.out, 'table.md'), text, overwrite=True)
        write_csv(osp.join(args.out, 'table.csv'), header, table)
        rule = args.params if args.params != 'linear' else f'linear, {args.buffers} BatchNorm statistics'
        heatmap(osp.join(args.out, 'heatmap.png'), [subset_label(names, s) for s in keys], [*targets, 'mean', 'H'],
                [row[1 + len(names):] for row in table], f'mIoU of every subset of models ({rule})')
    print(text, end='')
    print(f'written to {args.out}: table.md, table.csv, heatmap.png')
    return rows


if __name__ == '__main__':
    run_main(main)
