"""A ``torch.profiler`` trace of a few training iterations, and what it says about launch overhead.

On CUDA: kernel launches per iteration (the runtime and driver launch calls the host makes; a replayed CUDA graph
is one ``cudaGraphLaunch`` for all its kernels), kernels executed per iteration, and the share of the profiled
wall time in which the GPU runs a kernel or a copy (the union of their intervals). On the CPU there are no
launches; the analogue is the number of top-level aten operations per iteration (each one a trip through the
dispatcher from Python or compiled code), and the share of wall time spent inside them.
"""
import json
import os
import os.path as osp

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from ..errors import UserError

STEP_LABEL = 'daseg_train_iteration'
LAUNCHES = frozenset({'cudaLaunchKernel', 'cudaLaunchKernelExC', 'cuLaunchKernel', 'cuLaunchKernelEx',
                      'cudaLaunchCooperativeKernel'})
GRAPH_LAUNCHES = frozenset({'cudaGraphLaunch', 'cuGraphLaunch'})
DEVICE_WORK = frozenset({'kernel', 'gpu_memcpy', 'gpu_memset'})


def profile_iterations(step, first_iteration, iterations, device, trace_dir):
    """Run ``step(i)`` for ``iterations`` iterations under the profiler, write the chrome trace to
    ``trace_dir/trace.json`` and summarise it.

    Returns:
        dict: :func:`summarize_trace`'s summary and ``trace`` (the file written).
    """
    os.makedirs(trace_dir, exist_ok=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with profile(activities=activities) as profiler:
        for iteration in range(first_iteration, first_iteration + iterations):
            with record_function(STEP_LABEL):
                step(iteration)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    path = osp.join(trace_dir, 'trace.json')
    profiler.export_chrome_trace(path)
    with open(path) as f:
        summary = summarize_trace(json.load(f), device.type)
    return dict(summary, trace=path)


def summarize_trace(trace, device_type):
    """Per-iteration launch counts and the busy share from a chrome trace (``torch.profiler``'s export) whose
    iterations are marked by :data:`STEP_LABEL` ranges.

    Args:
        trace (dict): the parsed trace JSON.
        device_type (str): ``'cuda'`` or ``'cpu'``: which counts are meaningful.

    Returns:
        dict: ``profiled_iters``, ``wall_s`` (first iteration's start to the last iteration's or device work's
        end), and on CUDA ``launches_per_iter``, ``graph_launches_per_iter``, ``kernels_per_iter`` and
        ``device_busy_share``; on the CPU ``aten_ops_per_iter`` and ``aten_busy_share``.
    """
    events = [e for e in trace['traceEvents'] if e.get('ph') == 'X']
    steps = [e for e in events if e['name'] == STEP_LABEL]
    if not steps:
        raise UserError(f'the trace marks no {STEP_LABEL!r} iterations')
    start = min(e['ts'] for e in steps)
    end = max(e['ts'] + e['dur'] for e in steps)
    n = len(steps)
    if device_type == 'cuda':
        work = [e for e in events if e.get('cat') in DEVICE_WORK and e['ts'] >= start]
        end = max([end] + [e['ts'] + e['dur'] for e in work])
        result = dict(launches_per_iter=_count(events, LAUNCHES, start, end) / n,
                      graph_launches_per_iter=_count(events, GRAPH_LAUNCHES, start, end) / n,
                      kernels_per_iter=sum(e.get('cat') == 'kernel' for e in work) / n,
                      device_busy_share=_union(work, start, end) / (end - start))
    else:
        ops = _top_level(e for e in events if e.get('cat') == 'cpu_op' and e['name'].startswith('aten::')
                         and start <= e['ts'] < end)
        result = dict(aten_ops_per_iter=len(ops) / n, aten_busy_share=_union(ops, start, end) / (end - start))
    return dict(result, profiled_iters=n, wall_s=(end - start) / 1e6)


def _count(events, names, start, end):
    return sum(e['name'] in names and start <= e['ts'] < end for e in events)


def _top_level(ops):
    """The operations not nested inside another one of the same thread."""
    top, ends = [], {}
    for op in sorted(ops, key=lambda e: (e['ts'], -e['dur'])):
        thread = (op.get('pid'), op.get('tid'))
        if op['ts'] >= ends.get(thread, float('-inf')):
            top.append(op)
            ends[thread] = op['ts'] + op['dur']
    return top


def _union(events, start, end):
    """Microseconds of [start, end] covered by at least one event."""
    covered, reach = 0.0, start
    for e in sorted(events, key=lambda e: e['ts']):
        lo, hi = max(e['ts'], reach), min(e['ts'] + e['dur'], end)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return covered
