#!/usr/bin/env python
"""Time and peak memory of merge.py for N checkpoints of a real model size.

    python tools/benchmark_merge.py --config configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5.py \
        --n 2 4 --tmp /tmp/merge_bench

Writes N UDA checkpoints (student and teacher with random weights, like a training checkpoint without the
optimizer) of the config's segmentor, then runs merge.py in a fresh process for each N and prints wall time
and peak resident memory next to the size of one model.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', required=True, help='a training config whose segmentor is merged')
    p.add_argument('--n', nargs='+', type=int, default=[2, 4], help='numbers of inputs to merge')
    p.add_argument('--tmp', required=True, help='folder for the generated checkpoints (removed afterwards)')
    p.add_argument('--extra', nargs='*', default=[], help='more merge.py options, e.g. --params rebasin')
    return p.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.cli import load_config, run_main, segmentor_config  # noqa: E402

# merge.py in a fresh process that reports its own peak resident memory (KiB on Linux) on its last line.
_CHILD = ('import resource, runpy, sys; sys.argv = ["merge.py"] + sys.argv[1:]; '
          'runpy.run_path({merge!r}, run_name="__main__"); '
          'print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)')


def make_inputs(cfg, n, folder):
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    model_cfg = segmentor_config(cfg)
    model_cfg['backbone'].pop('pretrained', None)
    model = MODELS.build(model_cfg)
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    paths = []
    for k in range(n):
        torch.manual_seed(k)
        sd = {name: (torch.randn_like(t) if t.is_floating_point() else t) for name, t in model.state_dict().items()}
        state = {f'{prefix}.{name}': t for prefix in ('model', 'ema_model') for name, t in sd.items()}
        paths.append(osp.join(folder, f'input{k}.pth'))
        torch.save({'state_dict': state, 'meta': {}}, paths[-1])
    return paths, size


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config)
    os.makedirs(args.tmp, exist_ok=False)
    merge = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'merge.py')
    try:
        paths, size = make_inputs(cfg, max(args.n), args.tmp)
        print(f'one model: {size / 2**20:.0f} MiB of weights (a UDA checkpoint holds two: student and teacher)')
        for n in args.n:
            out = osp.join(args.tmp, f'merged{n}.pth')
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, '-c', _CHILD.format(merge=merge), *paths[:n], '--out', out,
                                   *args.extra], check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            peak = int(proc.stdout.split()[-1]) * 1024
            print(f'N={n}: {wall:.1f} s, peak resident memory {peak / 2**20:.0f} MiB = {peak / size:.2f} models')
            os.remove(out)
    finally:
        for name in os.listdir(args.tmp):
            os.remove(osp.join(args.tmp, name))
        os.rmdir(args.tmp)


if __name__ == '__main__':
    run_main(main)
