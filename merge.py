#!/usr/bin/env python
"""Merge N per-target checkpoints into one model that serves every target, without any data.

    python merge.py cs.pth idd.pth --out merged.pth
    python merge.py cs.pth idd.pth acdc.pth --weights 0.5 0.25 0.25 --buffers gaussian-weighted --out m.pth
    python merge.py cs_r101.pth idd_r101.pth --params rebasin --out m.pth
    python merge.py cs.pth idd.pth --sep-heads --out merged.pth     # merged_head1.pth, merged_head2.pth
    python merge.py cs.pth idd.pth acdc.pth dz.pth --params ties --base source_only.pth --out m.pth

Parameters are averaged with the weights (default 1/N), or merged from their task vectors theta_k - theta_base
(task-arithmetic, ties, dare). BatchNorm statistics are merged as a mixture of Gaussians weighted by each
input's num_batches_tracked (--buffers gaussian), or by the weights (gaussian-weighted), or averaged (mean), or
taken from the first input (first); --recalibrate-bn instead re-estimates them on unlabelled target images
(this uses data). Then evaluate with ./test.sh CONFIG merged.pth --targets ...
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from daseg.cli import load_config, run_main, segmentor_config  # noqa: E402
from daseg.merging.arguments import add_merge_arguments, merge_kwargs, wants_recalibration  # noqa: E402
from daseg.merging.merger import merge_checkpoints  # noqa: E402
from daseg.merging.recalibrate import Recalibrator, test_pipeline  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('checkpoints', nargs='+', metavar='CKPT', help='two or more checkpoints of one architecture')
    p.add_argument('--out', required=True, help='output checkpoint (with --sep-heads: <stem>_head<k>.pth)')
    p.add_argument('--weights', nargs='+', type=float, metavar='W',
                   help='one weight per checkpoint, non-negative, summing to 1 (default 1/N each)')
    p.add_argument('--sep-heads', action='store_true',
                   help="one output per input: the merged model with that input's own decode head")
    p.add_argument('--force', action='store_true', help='replace existing output files')
    p.add_argument('--allow-duplicates', action='store_true',
                   help='accept an input given twice (the same file or the same content)')
    add_merge_arguments(p)
    return p.parse_args(argv)


def recalibrator(args, config):
    """The BatchNorm recalibration asked for (None without --recalibrate-bn), built before any merging so that
    a bad config or image folder stops at once."""
    if not wants_recalibration(args, config):
        return None
    cfg = load_config(config)
    return Recalibrator(segmentor_config(cfg), test_pipeline(cfg), args.recalibrate_bn, args.recalibrate_images,
                        scope=cfg.get('default_scope', 'mmseg'))


def main(argv=None):
    args = parse_args(argv)
    return merge_checkpoints(args.checkpoints, args.out, weights=args.weights, sep_heads=args.sep_heads,
                             force=args.force, allow_duplicates=args.allow_duplicates,
                             recalibrate=recalibrator(args, args.config), **merge_kwargs(args))


if __name__ == '__main__':
    run_main(main)
