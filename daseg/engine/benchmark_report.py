"""The two-column table ``tools/benchmark.py`` prints, from its results dict."""
import sys


def report_rows(results):
    """(name, value) rows for the fields present in ``results``."""
    rows = [('config', results['config']), ('device', results['device']), ('amp', results['amp']),
            ('speed options', results['speed_options'] or 'none'),
            ('batch', f"{results['batch']} per domain x {results['domains']} domain(s), crop "
                      f"{results['crop'][0]}x{results['crop'][1]}")]
    if 'compiled_graphs' in results:
        rows += [('compiled graphs', str(results['compiled_graphs'])),
                 ('graph breaks', str(results['graph_breaks']))]
        rows += [('  break', reason) for reason in results['graph_break_reasons']]
        rows += [('compile time (s)', f"{results['compile_overhead_s']:.2f} ({results['compile_iters']} compiling "
                                      f"warm-up iteration(s) took {results['compile_iters_s']:.2f} s)"),
                 ('graphs compiled while timed', str(results['graphs_compiled_while_timed']))]
    if 's_per_iter' in results:
        rows += [('iterations', f"{results['iters']} timed after {results['warmup']} warm-up"),
                 ('train s/iter', f"{results['s_per_iter']:.4f}"),
                 ('train images/s', f"{results['images_per_s']:.2f}")]
    if 'peak_allocated_gib' in results:
        rows += [('peak allocated (GiB)', f"{results['peak_allocated_gib']:.2f} (overall incl. warm-up "
                                           f"{results['overall_peak_allocated_gib']:.2f})"),
                 ('peak reserved (GiB)', f"{results['peak_reserved_gib']:.2f}")]
    elif 'peak_rss_gib' in results:
        rows.append(('peak RSS (GiB)', f"{results['peak_rss_gib']:.2f}"))
    if 'tflop_per_iter' in results:
        rows.append(('TFLOP/iter', f"{results['tflop_per_iter']:.4f}"))
    if 'achieved_tflops' in results:
        rows.append(('achieved TFLOP/s', f"{results['achieved_tflops']:.4f}"))
        if results.get('fraction_of_peak') is not None:
            rows.append(('fraction of bf16 peak', f"{100 * results['fraction_of_peak']:.2f} % of "
                                                  f"{results['peak_tflops']:.0f} TFLOP/s"))
    rows += _profile_rows(results)
    if 'whole_images_per_s' in results:
        size = 'x'.join(map(str, results['eval_size']))
        rows += [(f'eval whole {size} images/s', f"{results['whole_images_per_s']:.3f}"),
                 (f'eval slide {size} images/s', f"{results['slide_images_per_s']:.3f} (window "
                                                 f"{'x'.join(map(str, results['slide_window']))}, stride "
                                                 f"{'x'.join(map(str, results['slide_stride']))})")]
    return rows


def _profile_rows(results):
    if 'profiled_iters' not in results:
        return []
    rows = [('profile trace', f"{results['trace']} ({results['profiled_iters']} iterations)")]
    if 'launches_per_iter' in results:
        return rows + [('kernel launches/iter', f"{results['launches_per_iter']:.0f}"),
                       ('CUDA graph launches/iter', f"{results['graph_launches_per_iter']:.0f}"),
                       ('kernels run/iter', f"{results['kernels_per_iter']:.0f}"),
                       ('GPU busy share', f"{100 * results['device_busy_share']:.1f} % of the profiled wall time")]
    return rows + [('aten ops/iter (CPU)', f"{results['aten_ops_per_iter']:.0f} top-level (the CPU's analogue "
                                           'of kernel launches)'),
                   ('in aten ops (CPU)', f"{100 * results['aten_busy_share']:.1f} % of the profiled wall time "
                                         '(no device busy share on the CPU)')]


def print_report(results, out=None, title=None):
    """Print ``results`` as a two-column table (to ``out``, default stdout), under ``--- title ---`` if given."""
    out = out or sys.stdout
    if title:
        print(f'--- {title} ---', file=out)
    rows = report_rows(results)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f'{name.ljust(width)} : {value}', file=out)


def print_speedup(eager, compiled, out=None):
    """The speed of the compiled step relative to the eager one."""
    print(f"--- compiled vs eager : {eager['s_per_iter'] / compiled['s_per_iter']:.2f}x the speed "
          f"({eager['s_per_iter']:.4f} -> {compiled['s_per_iter']:.4f} s/iter)", file=out or sys.stdout)
