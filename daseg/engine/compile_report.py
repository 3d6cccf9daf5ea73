"""What ``torch.compile`` did during a run, from dynamo's process-wide counters.

``torch._dynamo.utils.counters`` counts, since it was last cleared, the graphs dynamo compiled
(``stats/unique_graphs``: one per captured frame piece and per recompilation) and the graph breaks by reason
(``graph_break``); a function with one break compiles into two graphs.
"""
import torch._dynamo
from torch._dynamo.utils import counters

# Reasons are long (explanation, hint, link): their first line names the cause.
MAX_REASONS = 10


def reset_compile_state():
    """Forget compiled code and clear the counters, so that a run compiles (and is timed compiling) afresh."""
    torch._dynamo.reset()
    counters.clear()


def compiled_graphs() -> int:
    return counters['stats']['unique_graphs']


def compile_counters() -> dict:
    """Graphs compiled and graph breaks since the counters were cleared.

    Returns:
        dict: ``compiled_graphs``, ``graph_breaks`` (all occurrences) and ``graph_break_reasons`` (the first line
        of each distinct reason with its count, most frequent first, at most :data:`MAX_REASONS`).
    """
    breaks = counters['graph_break']
    reasons = sorted(((reason.strip().split('\n')[0], count) for reason, count in breaks.items()),
                     key=lambda item: -item[1])
    return dict(compiled_graphs=compiled_graphs(), graph_breaks=sum(breaks.values()),
                graph_break_reasons=[f'{count} x {reason}' for reason, count in reasons[:MAX_REASONS]])


def compile_phase(iteration_times, graphs_after, steady_s_per_iter) -> dict:
    """The warm-up iterations that compiled, told apart from the steady-state warm-up.

    Args:
        iteration_times (list[float]): seconds of each warm-up iteration.
        graphs_after (list[int]): :func:`compiled_graphs` after each of them (the count before the first is 0).
        steady_s_per_iter (float): the timed seconds per iteration.

    Returns:
        dict: ``compile_iters`` (how many warm-up iterations compiled a graph), ``compile_iters_s`` (their
        seconds, execution included) and ``compile_overhead_s`` (those seconds less as many steady iterations).
    """
    before = [0] + list(graphs_after[:-1])
    compiling = [t for t, b, a in zip(iteration_times, before, graphs_after) if a > b]
    seconds = sum(compiling)
    return dict(compile_iters=len(compiling), compile_iters_s=seconds,
                compile_overhead_s=seconds - len(compiling) * steady_s_per_iter)
