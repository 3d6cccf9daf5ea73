"""tools/benchmark.py: it times the real UDA step of a demo config on the CPU and prints every field; its FLOP
counts match closed-form formulas; the peak table knows the GPUs it names and nothing else."""
import pytest
import torch

from daseg.engine.flops import count_flops, peak_tflops
from daseg.engine.synthetic_batch import synthetic_batch
from daseg.errors import UserError
from entry_points import ROOT, load_script

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

BENCHMARK = load_script('tools/benchmark')
DEMO = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')
HRDA_DEMO = str(ROOT / 'configs/demo/gta2cityscapes_hrda.py')


@pytest.fixture(autouse=True)
def no_denormals():
    torch.set_flush_denormal(True)


def test_benchmark_of_the_dacs_demo_prints_every_field(capsys):
    results = BENCHMARK.main([DEMO, '--device', 'cpu', '--iters', '2', '--warmup', '1', '--crop', '64', '64',
                              '--eval', '--eval-size', '64', '128'])
    out = capsys.readouterr().out
    for field in ('train s/iter', 'train images/s', 'peak RSS (GiB)', 'TFLOP/iter', 'achieved TFLOP/s',
                  'eval whole 64x128 images/s', 'eval slide 64x128 images/s', 'batch', 'crop 64x64'):
        assert field in out, field
    assert 'fraction of bf16 peak' not in out  # no known peak for a CPU
    # The demo's batch of 4 source and 4 target images per step.
    assert results['batch'] == 4 and results['domains'] == 2
    assert results['images_per_s'] == pytest.approx(8 / results['s_per_iter'])
    assert results['achieved_tflops'] == pytest.approx(results['tflop_per_iter'] / results['s_per_iter'])
    assert 0 < results['s_per_iter'] < 60 and results['peak_rss_gib'] > 0.05 and results['tflop_per_iter'] > 0
    # The demo tests whole images: the window is the training crop, the stride two thirds of it.
    assert results['slide_window'] == [64, 64] and results['slide_stride'] == [42, 42]


def test_flop_count_on_the_meta_device_equals_the_count_of_a_real_step(capsys):
    args = [DEMO, '--crop', '64', '64', '--batch', '1', '--iters', '1', '--warmup', '0']
    counted = BENCHMARK.main(args + ['--device', 'cpu'])['tflop_per_iter']
    meta = BENCHMARK.main(args + ['--flops-only'])
    assert meta['device'].startswith('meta') and 's_per_iter' not in meta
    # Equal but for the attention backward: the CPU's fused kernel recomputes the attention matrix (counted), the
    # meta device's unfused path stores it; attention is a small part of the step.
    assert meta['tflop_per_iter'] == pytest.approx(counted, rel=1e-3)
    assert 'train s/iter' not in capsys.readouterr().out.split('config')[-1]


def test_synthetic_batch_has_the_loader_layout_and_several_classes():
    data = synthetic_batch(3, (64, 96), num_classes=19, seed=1)
    assert [tuple(img.shape) for img in data['inputs']] == [(3, 64, 96)] * 3
    assert data['inputs'][0].dtype == torch.uint8 and len(data['target_inputs']) == 3
    for sample in data['data_samples']:
        labels = sample.gt_sem_seg.data
        assert labels.shape == (1, 64, 96) and labels.dtype == torch.long
        classes = set(labels.unique().tolist())
        assert 255 in classes and len(classes - {255}) >= 2
    assert all('gt_sem_seg' not in s for s in data['target_data_samples'])
    again = synthetic_batch(3, (64, 96), num_classes=19, seed=1)
    assert torch.equal(again['inputs'][0], data['inputs'][0])


def test_conv_flops_count_depthwise_weight_gradients_once():
    # Forward, input gradient and weight gradient each cost 2 * N * C * H * W * k * k for a depthwise conv.
    n, c, h, w, k = 2, 16, 10, 12, 3
    conv = torch.nn.Conv2d(c, c, k, padding=1, groups=c, bias=False)
    x = torch.randn(n, c, h, w, requires_grad=True)
    flops, _ = count_flops(lambda: conv(x).sum().backward())
    assert flops == 3 * 2 * n * c * h * w * k * k
    dense = torch.nn.Conv2d(c, 8, k, padding=1, bias=False)
    flops, _ = count_flops(lambda: dense(x).sum().backward())
    assert flops == 3 * 2 * n * 8 * c * h * w * k * k


def test_peak_table():
    assert peak_tflops('NVIDIA H100 80GB HBM3') == 989
    assert peak_tflops('NVIDIA H200') == 989
    assert peak_tflops('NVIDIA A100-SXM4-80GB') == 312
    assert peak_tflops('NVIDIA H100 PCIe') is None and peak_tflops('Tesla T4') is None


def test_bad_options_stop_with_one_line():
    with pytest.raises(UserError, match='--iters must be >= 1'):
        BENCHMARK.main([DEMO, '--iters', '0'])
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match='no CUDA GPU'):
            BENCHMARK.pick_device('cuda')
