"""Mixed precision: a bfloat16 DACS step matches the float32 step, every forward pass of the step is autocast
while losses and confidences stay float32, float16 loss scaling is exact, and the --amp option builds the
wrapper."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from daseg.engine.amp import AutocastOptimWrapper, with_amp
from daseg.errors import UserError
from entry_points import ROOT, run_experiments
from speed_models import batch, build_dacs, step

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

SIZE = (64, 64)


@pytest.fixture(autouse=True)
def no_denormals():
    torch.set_flush_denormal(True)


def one_step(amp, hrda=False):
    model = build_dacs(hrda=hrda, size=SIZE, seed=0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01)
    wrapper = OptimWrapper(optimizer) if amp is None else AutocastOptimWrapper(optimizer=optimizer, dtype=amp)
    return model, {k: v.detach() for k, v in step(model, wrapper, batch(SIZE, seed=0), 0).items()}


@pytest.mark.parametrize('hrda', [False, True], ids=['daformer', 'hrda'])
def test_bf16_step_losses_are_within_one_percent_of_fp32(hrda):
    _, fp32 = one_step(None, hrda)
    _, bf16 = one_step('bfloat16', hrda)
    assert fp32.keys() == bf16.keys()
    losses = [k for k in fp32 if 'loss' in k]
    assert {'src.loss', 'mix.loss', 'loss'} <= set(losses)
    if not hrda:
        assert fp32['src.fd.loss'] > 0  # the feature distance is part of the comparison
    for key in losses:
        assert bf16[key].dtype == torch.float32, key  # autocast keeps the cross-entropy in float32
        torch.testing.assert_close(bf16[key], fp32[key], rtol=0.01, atol=0, msg=key)


def test_every_forward_pass_of_the_step_is_autocast(monkeypatch):
    model = build_dacs(size=SIZE)
    seen = []
    for name in ('model', 'ema_model', 'imnet_model'):
        segmentor = getattr(model, name)
        original = segmentor.extract_feat

        def spy(img, name=name, original=original):
            feats = original(img)
            seen.append((name, torch.is_autocast_enabled('cpu'), feats[-1].dtype))
            return feats
        monkeypatch.setattr(segmentor, 'extract_feat', spy)
    pseudo = {}
    policy = model.teachers['ema_model']
    original_pseudo = policy.pseudo_labels

    def spy_pseudo(*args):
        pseudo['label'], pseudo['weight'] = original_pseudo(*args)
        return pseudo['label'], pseudo['weight']
    monkeypatch.setattr(policy, 'pseudo_labels', spy_pseudo)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.model.parameters(), lr=0.01), dtype='bfloat16')
    step(model, wrapper, batch(SIZE), 1)
    # student on source, ImageNet model, teacher on target, student on the mixed images
    assert [name for name, _, _ in seen] == ['model', 'imnet_model', 'ema_model', 'model']
    assert all(enabled and dtype == torch.bfloat16 for _, enabled, dtype in seen), seen
    assert pseudo['weight'].dtype == torch.float32  # the confidence is a float32 softmax


def fp16_gradients(layer, x, target, wrapper):
    with wrapper.optim_context(layer):
        out = layer(x)
    assert out.dtype == torch.float16
    wrapper.backward(torch.nn.functional.mse_loss(out.float(), target))
    return [p.grad.clone() for p in layer.parameters()]


def test_fp16_loss_scaling_scales_gradients_and_unscales_the_step():
    torch.manual_seed(0)
    layer, plain = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    plain.load_state_dict(layer.state_dict())
    x, target = torch.randn(8, 4), torch.randn(8, 3)
    before = [p.detach().clone() for p in layer.parameters()]
    scaled = AutocastOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1), dtype='float16',
                                  loss_scale=1024.0)
    # The same float16 forward without a scaler (a bfloat16 wrapper's backward, autocast by hand).
    unscaled = OptimWrapper(torch.optim.SGD(plain.parameters(), lr=0.1))
    with torch.autocast('cpu', dtype=torch.float16):
        out = plain(x)
    unscaled.backward(torch.nn.functional.mse_loss(out.float(), target))
    reference = [p.grad for p in plain.parameters()]
    grads = fp16_gradients(layer, x, target, scaled)
    for grad, ref in zip(grads, reference):
        torch.testing.assert_close(grad, 1024 * ref)
    scaled.step()
    for param, start, ref in zip(layer.parameters(), before, reference):
        torch.testing.assert_close(param.detach(), start - 0.1 * ref)
    assert scaled.state_dict()['loss_scaler']['scale'] == 1024.0


def test_fp16_dynamic_scaler_skips_a_step_with_infinite_gradients():
    layer = torch.nn.Linear(2, 1)
    before = [p.detach().clone() for p in layer.parameters()]
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1), dtype='float16')
    scale = wrapper.loss_scaler.get_scale()
    wrapper.backward(layer(torch.tensor([[float('inf'), 1.0]])).sum())
    wrapper.step()
    assert all(torch.equal(p, b) for p, b in zip(layer.parameters(), before))
    assert wrapper.loss_scaler.get_scale() == scale / 2


def test_bf16_needs_no_loss_scaler():
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1))
    assert wrapper.loss_scaler is None and wrapper.cast_dtype == torch.bfloat16 and wrapper.device_type == 'cpu'


def test_amp_option_builds_the_wrapper_from_the_config():
    cfg = run_experiments.prepare_config(run_experiments.parse_args(
        ['--config', str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'), '--work-dir', '/nonexistent/x',
         '--amp', 'fp16']))
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and 'paramwise_cfg' in cfg.optim_wrapper
    assert with_amp(dict(type='OptimWrapper', optimizer=dict(type='SGD')), 'none')['type'] == 'OptimWrapper'
    with pytest.raises(UserError, match='already AmpOptimWrapper'):
        with_amp(dict(type='AmpOptimWrapper', optimizer=dict(type='SGD')), 'bf16')
    with pytest.raises(UserError, match="dtype must be 'bfloat16' or 'float16'"):
        AutocastOptimWrapper(optimizer=torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1), dtype='int8')
