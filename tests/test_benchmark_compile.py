"""What tools/benchmark.py reports about compilation and launches: dynamo's graph and break counts of functions
whose graphs are known, the warm-up iterations that compiled told apart from the steady ones, launches and busy
share from a trace built by hand, aten ops of a profiled run with a known number of ops, and the report of an
eager-vs-compiled run with its trace files."""
import json

import pytest
import torch

from daseg.engine.benchmark_report import report_rows
from daseg.engine.compile_report import compile_counters, compile_phase, reset_compile_state
from daseg.engine.profile_summary import STEP_LABEL, profile_iterations, summarize_trace
from daseg.engine.step_timing import time_training
from daseg.errors import UserError
from entry_points import ROOT, load_script
from speed_models import segmentor_cfg

BENCHMARK = load_script('tools/benchmark')


def with_break(x):
    y = x.sin()
    if y.sum().item() > -100:  # .item(): a graph break
        y = y * 2
    return y.cos()


def clean(x):
    return x.sin().cos() * 2


@pytest.mark.parametrize('fn, graphs, breaks', [(with_break, 2, 1), (clean, 1, 0)])
def test_counters_give_the_graphs_and_breaks_of_a_function(fn, graphs, breaks):
    reset_compile_state()
    compiled = torch.compile(fn, backend='aot_eager')
    x = torch.randn(5)
    assert torch.allclose(compiled(x), fn(x))
    counts = compile_counters()
    assert counts['compiled_graphs'] == graphs and counts['graph_breaks'] == breaks
    assert len(counts['graph_break_reasons']) == breaks
    if breaks:
        assert counts['graph_break_reasons'][0].startswith('1 x ') and 'item()' in counts['graph_break_reasons'][0]


def test_compile_phase_counts_the_iterations_that_compiled():
    phase = compile_phase([5.0, 1.0, 3.2, 1.1], [2, 2, 3, 3], steady_s_per_iter=1.0)
    assert phase == dict(compile_iters=2, compile_iters_s=pytest.approx(8.2), compile_overhead_s=pytest.approx(6.2))


def test_timing_sees_compilation_in_warm_up_and_recompilation_while_timed():
    reset_compile_state()
    compiled = torch.compile(clean, backend='aot_eager', dynamic=False)
    result = time_training(lambda i: compiled(torch.ones(3)), iters=2, warmup=3, device=torch.device('cpu'))
    assert result['compile_iters'] == 1 and result['graphs_compiled_while_timed'] == 0
    # A new shape every iteration (static shapes): every timed iteration compiles again.
    result = time_training(lambda i: compiled(torch.ones(4 + i)), iters=2, warmup=1, device=torch.device('cpu'))
    assert result['compile_iters'] == 1 and result['graphs_compiled_while_timed'] == 2


def event(name, ts, dur, cat, tid=1):
    return dict(ph='X', name=name, ts=ts, dur=dur, cat=cat, pid=1, tid=tid)


def test_cuda_summary_counts_launches_and_the_union_of_kernel_time():
    trace = {'traceEvents': [
        event(STEP_LABEL, 0, 100, 'user_annotation'), event(STEP_LABEL, 100, 100, 'user_annotation'),
        event('cudaLaunchKernel', 10, 2, 'cuda_runtime'), event('cudaLaunchKernel', 20, 2, 'cuda_runtime'),
        event('cuLaunchKernel', 30, 2, 'cuda_driver'), event('cudaGraphLaunch', 120, 2, 'cuda_runtime'),
        event('cudaLaunchKernel', 500, 2, 'cuda_runtime'),  # after the profiled iterations
        event('gemm', 15, 30, 'kernel', tid=7), event('relu', 40, 20, 'kernel', tid=7),  # overlap: 15..60
        event('copy', 150, 10, 'gpu_memcpy', tid=8), event('graph kernel', 190, 30, 'kernel', tid=7),  # to 220
        dict(ph='i', name='marker', ts=5)]}
    summary = summarize_trace(trace, 'cuda')
    assert summary['profiled_iters'] == 2 and summary['launches_per_iter'] == 1.5
    assert summary['graph_launches_per_iter'] == 0.5 and summary['kernels_per_iter'] == 1.5
    # Busy 45 + 10 + 30 us of the 220 us from the first iteration's start to the last kernel's end.
    assert summary['device_busy_share'] == pytest.approx(85 / 220) and summary['wall_s'] == pytest.approx(220e-6)


def test_cpu_summary_counts_top_level_aten_ops():
    trace = {'traceEvents': [
        event(STEP_LABEL, 0, 100, 'user_annotation'),
        event('aten::linear', 10, 30, 'cpu_op'), event('aten::addmm', 12, 20, 'cpu_op'),  # nested
        event('aten::sin', 50, 10, 'cpu_op'), event('aten::cos', 55, 20, 'cpu_op', tid=2),  # other thread
        event('python_fn', 80, 5, 'python_function')]}
    summary = summarize_trace(trace, 'cpu')
    assert summary['aten_ops_per_iter'] == 3 and summary['aten_busy_share'] == pytest.approx(0.55)
    with pytest.raises(UserError, match='marks no'):
        summarize_trace({'traceEvents': []}, 'cpu')


def test_profiled_run_writes_a_trace_with_the_ops_it_ran(tmp_path):
    linear = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)

    def step(_):
        linear(x).sin().cos()  # three top-level ops (linear runs addmm inside)

    summary = profile_iterations(step, 0, 2, torch.device('cpu'), str(tmp_path / 'prof'))
    assert summary['profiled_iters'] == 2 and summary['aten_ops_per_iter'] == 3
    with open(summary['trace']) as f:
        assert sum(e['name'] == STEP_LABEL for e in json.load(f)['traceEvents']) == 2


def test_compare_run_reports_compilation_speed_up_and_profiles(tmp_path, monkeypatch, capsys):
    """The whole script on a tiny DACS config; the compiled step stands in as the eager step plus a compiled
    function with one graph break (compiling the real step belongs to the compilation tests)."""
    config = tmp_path / 'tiny.py'
    tiny = segmentor_cfg()
    config.write_text(f"_base_ = ['{ROOT}/configs/demo/gta2cityscapes_dacs.py']\n"
                      f"model = dict(model=dict(backbone=dict(num_layers={tiny.backbone.num_layers}), "
                      f"decode_head=dict(channels=8, decoder_params=dict(embed_dims=8))))\n")
    probe = torch.compile(with_break, backend='aot_eager')
    real_iteration, real_configure = BENCHMARK.train_iteration, BENCHMARK.configure_speed
    state = {}

    def configure(cfg, compile=False, **options):
        state['compiled'] = bool(compile)
        return real_configure(cfg, **options)

    def iteration(*args):
        if state['compiled']:
            probe(torch.ones(3))
        return real_iteration(*args)

    monkeypatch.setattr(BENCHMARK, 'configure_speed', configure)
    monkeypatch.setattr(BENCHMARK, 'train_iteration', iteration)
    args = [str(config), '--device', 'cpu', '--crop', '32', '32', '--batch', '1', '--iters', '2', '--warmup', '2',
            '--no-flops', '--compile', '--compare', '--profile', str(tmp_path / 'prof'), '--profile-iters', '1']
    results = BENCHMARK.main(args)
    out = capsys.readouterr().out
    eager, compiled = results['eager'], results['compiled']
    assert results['speedup'] == pytest.approx(eager['s_per_iter'] / compiled['s_per_iter'])
    assert 'compiled_graphs' not in eager and eager['speed_options'] == ''
    assert compiled['compiled_graphs'] == 2 and compiled['graph_breaks'] == 1 and compiled['compile_iters'] == 1
    assert compiled['graphs_compiled_while_timed'] == 0
    for variant in ('eager', 'compiled'):
        assert (tmp_path / 'prof' / variant / 'trace.json').is_file()
    assert eager['aten_ops_per_iter'] > 100 and compiled['aten_ops_per_iter'] > 100
    for line in ('--- eager ---', '--- compiled ---', 'compiled graphs             : 2', 'graph breaks', 'item()',
                 'compile time (s)', 'aten ops/iter (CPU)', '--- compiled vs eager : '):
        assert line in out, line
    with pytest.raises(UserError, match='needs --compile'):
        BENCHMARK.main([str(config), '--compare'])
    with pytest.raises(UserError, match='--profile-iters must be >= 1'):
        BENCHMARK.main([str(config), '--profile', str(tmp_path), '--profile-iters', '0'])
    monkeypatch.undo()  # the real configure_speed, which refuses CUDA graphs without a GPU
    with pytest.raises(UserError, match='reduce-overhead replays CUDA graphs and needs a CUDA GPU'):
        BENCHMARK.main([str(config), '--device', 'cpu', '--compile-mode', 'reduce-overhead', '--no-flops'])


def test_report_of_a_cuda_profile():
    results = dict(config='c.py', device='GPU', amp='bf16', speed_options='compile', batch=2, domains=2,
                   crop=[512, 512], trace='p/trace.json', profiled_iters=3, launches_per_iter=1234.4,
                   graph_launches_per_iter=2, kernels_per_iter=5000, device_busy_share=0.412, wall_s=1.0)
    rows = dict(report_rows(results))
    assert rows['kernel launches/iter'] == '1234' and rows['CUDA graph launches/iter'] == '2'
    assert rows['GPU busy share'].startswith('41.2 %') and 'aten ops/iter (CPU)' not in rows
