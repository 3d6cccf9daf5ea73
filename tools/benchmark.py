#!/usr/bin/env python
"""Time the real training step of a config (and optionally its inference) on synthetic data.

    python tools/benchmark.py configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5.py \\
        --amp bf16 --iters 20 --warmup 5 --eval
    python tools/benchmark.py configs/demo/gta2cityscapes_dacs.py --device cpu --iters 5 --eval --eval-size 256 512

One iteration is what the runner does per step: ``model.train_step`` (for a UDA config the whole DACS step:
teacher update, source loss and feature distance, pseudo-labels, ClassMix and augmentation, mixed loss, two
backward passes, optimiser step) and the learning-rate update, on a batch of the config's size and crop that is
already on the device (no data loading). Weights are randomly initialised (no pretrained file needed). Prints
s/iter, images/s, peak memory (CUDA: allocated and reserved, after warm-up and overall; CPU: peak RSS of the
process), FLOPs per step and the achieved TFLOP/s (and its share of the GPU's dense bf16 peak when known), and with
``--eval`` the inference throughput of the student, whole-image and sliding-window. With ``--compile`` it also
prints the graphs dynamo compiled, the graph breaks with their reasons, and the compile time (the warm-up
iterations that compiled, less as many steady iterations); ``--compare`` times the eager step first in the same
run and prints the speed-up. ``--profile DIR`` writes a ``torch.profiler`` trace of a few more iterations and
prints kernel launches per iteration and the GPU's busy share (on the CPU: top-level aten ops per iteration).

    python tools/benchmark.py configs/demo/gta2cityscapes_dacs.py --device cpu --compile --compare --profile /tmp/p
"""
import argparse
import functools
import gc
import json
import os.path as osp
import sys
import time

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
# run_experiments.py's speed switches (one definition), importable without torch.
from run_experiments import add_speed_arguments  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='experiment config (.py)')
    p.add_argument('--iters', type=int, default=20, help='timed iterations (default 20)')
    p.add_argument('--warmup', type=int, default=5, help='untimed iterations first (default 5)')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--crop', type=int, nargs=2, metavar=('H', 'W'),
                   help="training image size (default: the config's crop)")
    p.add_argument('--batch', type=int, help="images per domain (default: the config's train batch_size)")
    p.add_argument('--eval', action='store_true', help='also time inference (whole image and sliding window)')
    p.add_argument('--eval-size', type=int, nargs=2, metavar=('H', 'W'),
                   help='inference image size (default: 1024 2048 on a GPU, 256 512 on the CPU)')
    p.add_argument('--no-flops', action='store_true', help='skip counting FLOPs (one more step)')
    p.add_argument('--flops-only', action='store_true',
                   help="only count the step's FLOPs, on torch's 'meta' device (no arithmetic: seconds at any size)")
    p.add_argument('--profile', metavar='DIR', help='write a torch.profiler trace of --profile-iters more '
                   'iterations to DIR/trace.json and print launches per iteration and the busy share')
    p.add_argument('--profile-iters', type=int, default=3, metavar='N', help='profiled iterations (default 3)')
    p.add_argument('--threads', type=int, help='CPU threads (torch.set_num_threads)')
    p.add_argument('--json', metavar='FILE', help='also write the results to FILE as JSON')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE', help='override config entries')
    speed = add_speed_arguments(p)
    speed.add_argument('--compare', action='store_true',
                       help='with --compile: time the eager step too, in the same run, and print the speed-up')
    return p.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

import torch  # noqa: E402

from daseg.cli import load_config, run_main  # noqa: E402
from daseg.engine.benchmark_report import print_report, print_speedup  # noqa: E402
from daseg.engine.compile_report import compile_counters, reset_compile_state  # noqa: E402
from daseg.engine.flops import count_flops, peak_tflops  # noqa: E402
from daseg.engine.profile_summary import profile_iterations  # noqa: E402
from daseg.engine.speed import configure_speed  # noqa: E402
from daseg.engine.step_timing import build, synchronize, time_training, train_iteration  # noqa: E402
from daseg.engine.synthetic_batch import crop_size_of, synthetic_batch  # noqa: E402
from daseg.errors import UserError  # noqa: E402

def pick_device(name, flops_only=False):
    if flops_only:
        return torch.device('meta')
    if name is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda: no CUDA GPU is visible to torch')
    return torch.device(name)


def is_uda(model):
    """Whether the model is a UDA wrapper (it declares its sub-models)."""
    return callable(getattr(model, 'sub_models', None))


def segmentor_of(model):
    """The student of a UDA wrapper, or the model itself."""
    return dict((sub.name, module) for sub, module in model.sub_models())['student'] if is_uda(model) else model


def slide_settings(segmentor, crop_size):
    """Window and stride of the sliding-window inference: the config's when it slides, else the training crop
    with a stride of two thirds of it."""
    test_cfg = segmentor.test_cfg or {}
    if test_cfg.get('mode') == 'slide':
        return tuple(test_cfg['crop_size']), tuple(test_cfg['stride'])
    return tuple(crop_size), tuple(max(1, 2 * s // 3) for s in crop_size)


def time_inference(model, optim_wrapper, size, crop_size, iters, warmup, device):
    """Images per second of the student's inference at ``size``, whole-image and sliding-window.

    Returns:
        dict: ``whole`` and ``slide`` images/s, and the window and stride used.
    """
    from mmengine.config import ConfigDict
    segmentor = segmentor_of(model)
    original_cfg = segmentor.test_cfg
    window, stride = slide_settings(segmentor, crop_size)
    image = torch.randn(1, 3, *size, device=device)
    metas = [dict(img_shape=tuple(size), ori_shape=tuple(size), pad_shape=tuple(size))]
    result = dict(eval_size=list(size), slide_window=list(window), slide_stride=list(stride))
    segmentor.eval()
    try:
        for mode in ('whole', 'slide'):
            settings = dict(original_cfg or {}, mode=mode)
            if mode == 'slide':
                settings.update(crop_size=window, stride=stride)
            segmentor.test_cfg = ConfigDict(settings)
            with torch.no_grad(), optim_wrapper.optim_context(model):
                for _ in range(warmup):
                    segmentor.inference(image, metas)
                synchronize(device)
                start = time.perf_counter()
                for _ in range(iters):
                    segmentor.inference(image, metas)
                synchronize(device)
            result[f'{mode}_images_per_s'] = iters / (time.perf_counter() - start)
    finally:
        segmentor.test_cfg = original_cfg
        model.train()
    return result


def device_name(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    if device.type == 'meta':
        return "meta (FLOPs only, no arithmetic)"
    import platform
    return f'CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)'


def measure(args, device, compile, profile_dir=None):
    """Build the config's model with ``compile`` (False for eager) and time, profile and count its step."""
    cfg = load_config(args.config, args.cfg_options)
    configure_speed(cfg, amp=args.amp, channels_last=args.channels_last, compile=compile,
                    checkpoint_blocks=args.checkpoint_blocks, tf32=args.tf32)
    crop = tuple(args.crop) if args.crop else crop_size_of(cfg)
    segmentor_cfg = cfg.model['model'] if 'model' in cfg.model else cfg.model
    if segmentor_cfg.get('data_preprocessor'):
        segmentor_cfg.data_preprocessor['size'] = crop
    if cfg.model.get('data_preprocessor'):
        cfg.model.data_preprocessor['size'] = crop
    torch.backends.cudnn.benchmark = bool((cfg.get('env_cfg') or {}).get('cudnn_benchmark', False))
    if compile:
        reset_compile_state()  # the compile time and counters of this model alone
    gc.collect()  # a previous variant's model and buffers
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)

    model, optim_wrapper, schedulers = build(cfg, device)
    uda = is_uda(model)
    batch_size = args.batch or cfg.train_dataloader.batch_size
    num_classes = segmentor_of(model).decode_head.num_classes
    batch = synthetic_batch(batch_size, crop, num_classes=num_classes, uda=uda, device=device)
    options = [name for name in ('channels_last', 'checkpoint_blocks', 'tf32') if getattr(args, name)]
    if compile:
        options.append(f'compile {compile}' if isinstance(compile, dict) else 'compile')
    results = dict(config=args.config, device=device_name(device), amp=args.amp, speed_options=', '.join(options),
                   batch=batch_size, domains=2 if uda else 1, crop=list(crop), iters=args.iters, warmup=args.warmup)
    step = functools.partial(train_iteration, model, optim_wrapper, schedulers, batch)
    # The iteration the timed run counts at: the random blur (a convolution) is then the same.
    counted = args.warmup + args.iters
    if args.flops_only:
        results['tflop_per_iter'] = count_flops(step, counted)[0] / 1e12
        return results
    results.update(time_training(step, args.iters, args.warmup, device))
    results['images_per_s'] = batch_size * results['domains'] / results['s_per_iter']
    if compile:
        results.update(compile_counters())
    if profile_dir:
        results.update(profile_iterations(step, counted, args.profile_iters, device, profile_dir))
    if not args.no_flops:
        # The arithmetic of the step, not of its compiled kernels (which the counter cannot see).
        with torch.compiler.set_stance('force_eager'):
            flops = count_flops(step, counted)[0]
        results['tflop_per_iter'] = flops / 1e12
        results['achieved_tflops'] = flops / 1e12 / results['s_per_iter']
        peak = peak_tflops(torch.cuda.get_device_name(device)) if device.type == 'cuda' else None
        if peak is not None:
            results['peak_tflops'] = peak
            results['fraction_of_peak'] = results['achieved_tflops'] / peak
    if args.eval:
        size = tuple(args.eval_size) if args.eval_size else ((1024, 2048) if device.type == 'cuda' else (256, 512))
        results.update(time_inference(model, optim_wrapper, size, crop, args.iters, args.warmup, device))
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        raise UserError(f'--iters must be >= 1 and --warmup >= 0, got {args.iters} and {args.warmup}')
    if args.profile and args.profile_iters < 1:
        raise UserError(f'--profile-iters must be >= 1, got {args.profile_iters}')
    if args.compile_mode:
        args.compile = dict(mode=args.compile_mode)
    if args.compare and not args.compile:
        raise UserError('--compare times eager against compiled: it needs --compile')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device, args.flops_only)
    if args.compare and not args.flops_only:
        eager = measure(args, device, False, args.profile and osp.join(args.profile, 'eager'))
        print_report(eager, title='eager')
        compiled = measure(args, device, args.compile, args.profile and osp.join(args.profile, 'compiled'))
        print_report(compiled, title='compiled')
        print_speedup(eager, compiled)
        results = dict(eager=eager, compiled=compiled, speedup=eager['s_per_iter'] / compiled['s_per_iter'])
    else:
        results = measure(args, device, args.compile, args.profile)
        print_report(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    run_main(main)
