"""The training step of a config built as the runner builds it, and timed without data loading (for
``tools/benchmark.py``)."""
import logging
import resource
import time

import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmseg.registry import MODELS

from .compile_report import compile_phase, compiled_graphs
from .param_groups import with_merged_groups
from .speed import apply_speed_options

GIB = 2 ** 30


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def build(cfg, device):
    """The config's model (random weights) on ``device`` in train mode, its optimiser wrapper and schedulers."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    apply_speed_options(model, **dict(cfg.get('speed') or {}))
    model.to(device).train()
    # mmengine lists every frozen teacher parameter it leaves out of the optimiser; not news here.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        optim_wrapper = build_optim_wrapper(model, with_merged_groups(cfg.optim_wrapper))  # as the runner
    finally:
        logger.setLevel(level)
    schedulers = []
    for scheduler in cfg.get('param_scheduler') or []:
        schedulers.append(PARAM_SCHEDULERS.build(dict(scheduler, optimizer=optim_wrapper)))
    return model, optim_wrapper, schedulers


def train_iteration(model, optim_wrapper, schedulers, batch, iteration):
    """What the runner does per training iteration, without data loading and hooks."""
    MessageHub.get_current_instance().update_info('iter', iteration)
    outputs = model.train_step(batch, optim_wrapper=optim_wrapper)
    for scheduler in schedulers:
        scheduler.step()
    return outputs


def time_training(step, iters, warmup, device):
    """Seconds per iteration of ``step(iteration)`` over ``iters`` iterations after ``warmup``, with the memory
    peaks and the warm-up iterations that compiled graphs (see :func:`.compile_report.compile_phase`).

    Returns:
        dict: ``s_per_iter``, ``graphs_compiled_while_timed`` (recompilations in the timed iterations, 0 when
        the warm-up sufficed), the compile phase, and ``peak_allocated_gib`` / ``peak_reserved_gib`` after warm-up
        and ``overall_peak_allocated_gib`` over all iterations (CUDA), or ``peak_rss_gib`` (CPU).
    """
    result, times, graphs = {}, [], []
    for iteration in range(warmup):
        start = time.perf_counter()
        step(iteration)
        synchronize(device)
        times.append(time.perf_counter() - start)
        graphs.append(compiled_graphs())
    if device.type == 'cuda':
        result['overall_peak_allocated_gib'] = torch.cuda.max_memory_allocated(device) / GIB
        torch.cuda.reset_peak_memory_stats(device)
    graphs_before = compiled_graphs()
    start = time.perf_counter()
    for iteration in range(warmup, warmup + iters):
        step(iteration)
    synchronize(device)
    result['s_per_iter'] = (time.perf_counter() - start) / iters
    result['graphs_compiled_while_timed'] = compiled_graphs() - graphs_before
    result.update(compile_phase(times, graphs, result['s_per_iter']))
    result.update(memory_peaks(device))
    return result


def memory_peaks(device):
    if device.type == 'cuda':
        return dict(peak_allocated_gib=torch.cuda.max_memory_allocated(device) / GIB,
                    peak_reserved_gib=torch.cuda.max_memory_reserved(device) / GIB)
    # ru_maxrss is in KiB on Linux: the high-water mark of the whole process.
    return dict(peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB)
