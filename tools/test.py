#!/usr/bin/env python
"""Evaluate one or more checkpoints on one or more target datasets.

    ./test.sh work_dirs/my_run                                  # its last checkpoint on every eval target
    ./test.sh CONFIG a.pth b.pth --targets cityscapes idd --show-dir preds
    ./test.sh work_dirs/my_run --tta                            # multi-scale (0.5-1.75) + flip, as --aug-test
    ./test.sh work_dirs/my_run --targets acdc --test-set --pred-dir submission   # test-server predictions

Prints per-class IoU and a summary (mIoU per target, mean, harmonic mean H) and writes results.json,
results.csv, results.md and the comparison of the checkpoints (comparison.csv, comparison.md, and the bar
chart comparison.png) to --out. The work is daseg.evaluation.run_test's.
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# As daseg.weights.EVALUABLE (which checks the choice again): the parser is built without importing the package
# (torch, mmseg), so that --help answers at once.
SUB_MODELS = ('student', 'teacher', 'region_teacher', 'class_teacher')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', metavar='CONFIG_OR_WORK_DIR',
                   help='a config .py, or a training work dir holding its dumped config')
    p.add_argument('checkpoints', nargs='*', metavar='CHECKPOINT',
                   help="checkpoints to evaluate (default with a work dir: its last checkpoint)")
    p.add_argument('--targets', nargs='+', metavar='NAME', help="names in the config's eval_targets (default: all)")
    p.add_argument('--show-dir', help='write image | ground truth | prediction PNGs to DIR/<target>/')
    p.add_argument('--pred-dir', help='write the raw predictions, one uint8 trainId PNG per image, to '
                                      "DIR/<target>/ in the tree of the dataset's images")
    p.add_argument('--test-set', action='store_true',
                   help="predict the targets' test splits ('val' becomes 'test' in their split and image path) "
                        'without labels, so without metric: give --pred-dir')
    p.add_argument('--tta', action='store_true',
                   help="test-time augmentation as the originals' --aug-test: 0.5, 0.75, 1.0, 1.25, 1.5, 1.75 x "
                        'the test size, each also flipped, softmax averaged (12 forward passes per image)')
    p.add_argument('--out', help='folder for results.json/.csv/.md (default: <work dir or checkpoint folder>/'
                                 'eval_<timestamp>)')
    p.add_argument('--eval-model', '--which', dest='which', choices=SUB_MODELS, default='student',
                   help='sub-model of a UDA checkpoint to evaluate')
    p.add_argument('--hrda-out', choices=['fused', 'lr', 'hr', 'att'],
                   help='HRDA models: evaluate the fused prediction (default), the context (lr) or detail (hr) '
                        'branch alone, or output the scale attention (att, for --show-dir)')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--workers', type=int, default=2, help='dataloader worker processes per target')
    p.add_argument('--batch-size', type=int, default=1,
                   help='images per forward pass (those of one size in a batch go together); for the demo '
                        'model on two CPU cores 8 is about 1.4x faster than 1')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override existing config entries, e.g. eval_targets.cityscapes.data_root=/data/cs')
    return p.parse_args(argv)


def evaluate(args):
    """Returns the results dict (see daseg.evaluation.report) and the report folder."""
    from daseg.cli import find_config, load_config, segmentor_config
    from daseg.evaluation import run_test
    config, work_dir = find_config(args.config)
    cfg = load_config(config, args.cfg_options)
    options = {k: v for k, v in vars(args).items() if k not in ('config', 'cfg_options')}
    return run_test(cfg, segmentor_config(cfg), args.config, work_dir, **options)


def main(argv=None):
    return evaluate(parse_args(argv))


if __name__ == '__main__':
    ARGS = parse_args()  # --help and usage errors come before the package loads
    from daseg.cli import run_main
    run_main(lambda: evaluate(ARGS))
