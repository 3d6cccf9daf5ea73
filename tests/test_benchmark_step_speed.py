"""The speed changes of the training step, each against an independent reference: fused attention equals mmseg's
attention, checkpointed MiT blocks give the same gradients, the DACS step runs without a host-device
synchronisation, the sync-free accuracy equals mmseg's, log variables reach the message hub unchanged in batches,
channels-last changes no loss, and the deterministic option works."""
import functools
import importlib
import types

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmseg.models.losses import accuracy as mmseg_accuracy
from torch.utils._python_dispatch import TorchDispatchMode

import daseg.models.uda.components.self_training as self_training
from daseg.datasets.pseudo_margins import margin_mask
from daseg.engine.hooks.deferred_runtime_info import DeferredRuntimeInfoHook
from daseg.engine.runner import DasegRunner
from daseg.engine.speed import apply_speed_options, configure_speed
from daseg.models.utils.accuracy import accuracy
from daseg.errors import UserError
from daseg.models.backbones.mit import MiT
from daseg.models.uda.strong_aug import strong_transform
from entry_points import ROOT
from speed_models import batch, build_dacs, sgd, step

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(autouse=True)
def no_denormals():
    torch.set_flush_denormal(True)


def projection_loss(outputs):
    """A loss that depends on every output value (a sum of squares of LayerNorm outputs would not)."""
    return sum((out * torch.cos(0.37 * torch.arange(out.numel()).view_as(out))).sum() for out in outputs)


def gradients(model, image, seed=1):
    model.zero_grad()
    torch.manual_seed(seed)  # the same drop-path masks
    outputs = model(image)
    projection_loss(outputs).backward()
    return outputs, {name: p.grad.clone() for name, p in model.named_parameters()}


def assert_gradients_close(actual, expected, rel=1e-4):
    """Each gradient within ``rel`` of its largest entry (float32 sums in another order differ by that much)."""
    for name, grad in expected.items():
        error = (actual[name] - grad).abs().max().item()
        assert error <= rel * grad.abs().max().item() + 1e-7, (name, error, grad.abs().max().item())


def mit_pair(**options):
    torch.manual_seed(0)
    reference = MiT(arch='b0', fused_attention=False, drop_path_rate=0.1)
    reference.init_weights()
    other = MiT(arch='b0', drop_path_rate=0.1, **options)
    other.load_state_dict(reference.state_dict())
    return reference.train(), other.train()


def test_fused_attention_equals_mmseg_attention():
    reference, fused = mit_pair(fused_attention=True)
    image = torch.randn(2, 3, 64, 96)
    out_ref, grad_ref = gradients(reference, image)
    out_fused, grad_fused = gradients(fused, image)
    for a, b in zip(out_ref, out_fused):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    assert_gradients_close(grad_fused, grad_ref)


def test_only_the_fused_attention_calls_sdpa(monkeypatch):
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, 'scaled_dot_product_attention', lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    reference, fused = mit_pair(fused_attention=True)
    image = torch.randn(1, 3, 32, 32)
    reference(image)
    assert not calls  # mmseg's need_weights=True path builds the attention matrix itself
    fused(image)
    assert len(calls) == sum(len(blocks) for _, blocks, _ in fused.layers)


def saved_bytes(model, image):
    """Bytes autograd keeps for the backward pass of one forward."""
    total = []

    def pack(tensor):
        total.append(tensor.numel() * tensor.element_size())
        return tensor
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        outputs = model(image)
    return sum(total), outputs


def test_checkpointed_blocks_give_the_same_gradients_and_save_less():
    reference, checkpointed = mit_pair(with_cp=True)
    image = torch.randn(2, 3, 64, 64)
    _, grad_ref = gradients(reference, image)
    _, grad_cp = gradients(checkpointed, image)
    assert_gradients_close(grad_cp, grad_ref, rel=1e-5)
    assert saved_bytes(checkpointed, image)[0] < 0.5 * saved_bytes(reference, image)[0]


class BlockingCopies(TorchDispatchMode):
    """Records host-to-device copies that wait for the device (the 'meta' device stands in for the GPU)."""

    def __init__(self):
        super().__init__()
        self.blocking = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func is torch.ops.aten._to_copy.default and args[0].device.type == 'cpu' \
                and isinstance(out, torch.Tensor) and out.device.type == 'meta' and not kwargs.get('non_blocking'):
            self.blocking.append(tuple(args[0].shape))
        return out


@pytest.mark.parametrize('hrda', [False, True], ids=['daformer', 'hrda'])
def test_dacs_step_never_waits_for_the_device(hrda, monkeypatch):
    """On the meta device every value-dependent read (.item(), bool(), .tolist(), nonzero, unique, boolean
    indexing) raises, like a synchronisation on a GPU would stall: a whole step runs there without one."""
    kornia_gaussian = importlib.import_module('kornia.filters.gaussian')  # the package exports a function of that name
    # kornia copies a CPU sigma without blocking only to CUDA; the meta device stands in for CUDA here.
    monkeypatch.setattr(kornia_gaussian, '_to_device_nonblocking',
                        lambda t, device, dtype=None: t.to(device=device, dtype=dtype, non_blocking=True))
    # Jitter and blur in every step (thresholds below any draw).
    monkeypatch.setattr(self_training, 'strong_transform', functools.partial(strong_transform, blur_p=-1.0))
    model = build_dacs(hrda=hrda, size=(64, 64), color_jitter_probability=-1.0).to('meta')
    wrapper = OptimWrapper(torch.optim.AdamW(model.model.parameters(), lr=1e-4))
    with BlockingCopies() as copies:
        for iteration in range(2):  # iteration 0 copies the teacher, 1 updates it
            data = batch((64, 64), seed=iteration)
            if hrda:  # HRDA's pseudo-label margins, as the target pipeline writes them
                for sample in data['target_data_samples']:
                    sample.set_metainfo(dict(valid_pseudo_mask=margin_mask(64, 64, [4, 8, 4, 4])))
            outputs = step(model, wrapper, data, iteration)
    assert not copies.blocking
    assert all(v.device.type == 'meta' for v in outputs.values())
    assert len(wrapper.optimizer.state) == len(list(model.model.parameters()))  # the optimiser stepped


def test_sync_free_accuracy_equals_mmseg():
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 19, 8, 10, generator=generator)
    target = torch.randint(0, 19, (3, 8, 10), generator=generator)
    target[:, :2] = 255
    cases = [(pred, target, dict(ignore_index=255)), (pred, target, dict(topk=(1, 3), ignore_index=255)),
             (pred, target, dict(topk=2)),
             # mmseg's threshold works on [N, C] scores only
             (pred[:, :, 0, 0], target[:, 5, 0], dict(thresh=0.5, ignore_index=255))]
    for scores, labels, kwargs in cases:
        ours, theirs = accuracy(scores, labels, **kwargs), mmseg_accuracy(scores, labels, **kwargs)
        for a, b in zip(ours if isinstance(ours, list) else [ours], theirs if isinstance(theirs, list) else [theirs]):
            torch.testing.assert_close(a, b, msg=str(kwargs))


def fake_runner(max_iters=10, interval=4):
    hub = MessageHub(f'deferred_{interval}_{max_iters}')
    return types.SimpleNamespace(iter=0, max_iters=max_iters, message_hub=hub, train_dataloader=[None] * 1000,
                                 hooks=[types.SimpleNamespace(interval=interval)])


def test_log_variables_reach_the_message_hub_in_batches():
    runner = fake_runner()
    hook = DeferredRuntimeInfoHook(interval=4)
    values = [dict(loss=torch.tensor(float(i)), acc=torch.tensor([2.0 * i]), lr_like=0.5) for i in range(6)]
    for i, record in enumerate(values):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs=record)
        stored = runner.message_hub.log_scalars.get('train/loss')
        # Nothing before the 4th iteration (index 3), then the first four at once.
        assert (stored is None) if i < 3 else list(stored.data[0]) == [float(j) for j in range(4)]
    checkpoint = dict(message_hub={})
    hook.before_save_checkpoint(runner, checkpoint)
    assert list(runner.message_hub.log_scalars['train/acc'].data[0]) == [2.0 * i for i in range(6)]
    assert 'train/loss' in checkpoint['message_hub']['log_scalars']


def test_a_non_finite_loss_stops_at_the_next_read_naming_its_iteration():
    runner = fake_runner()
    hook = DeferredRuntimeInfoHook(interval=4)
    for i, value in enumerate([1.0, float('nan'), 1.0]):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs={'src.loss': torch.tensor(1.0), 'mix.loss': torch.tensor(value)})
    with pytest.raises(UserError, match=r'non-finite mix loss \(nan\) at iteration 1: training stopped at '
                                        r'iteration 2'):
        hook.before_save_checkpoint(runner, {})


def test_channels_last_changes_no_loss():
    losses = []
    for channels_last in (False, True):
        model = build_dacs(size=(64, 64))
        apply_speed_options(model, channels_last=channels_last)
        losses.append(step(model, sgd(model), batch((64, 64)), 0))
    conv = model.model.decode_head.fuse_layer.bottleneck.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert model.input_memory_format == torch.channels_last
    for key in ('src.loss', 'mix.loss'):
        torch.testing.assert_close(losses[1][key], losses[0][key], rtol=1e-5, atol=1e-6)


def test_speed_options_go_into_the_config():
    from daseg.cli import load_config
    cfg = configure_speed(load_config(str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')), amp='bf16',
                          channels_last=True, compile=dict(mode='default'), checkpoint_blocks=True)
    assert cfg.model.model.backbone.with_cp is True
    assert cfg.speed == dict(channels_last=True, compile=dict(mode='default'))
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    resnet = load_config(str(ROOT / 'configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_dlv2red_r101v1c.py'))
    with pytest.raises(UserError, match='--checkpoint-blocks needs a MiT backbone'):
        configure_speed(resnet, checkpoint_blocks=True)
    with pytest.raises(UserError, match='speed.compile must be'):
        apply_speed_options(torch.nn.Linear(1, 1), compile='yes')


def test_deterministic_option_warns_instead_of_failing_on_gpu_ops():
    runner = object.__new__(DasegRunner)  # only set_randomness is exercised
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        runner.set_randomness(3, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert runner.seed == 3
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_merged_parameter_groups_give_every_parameter_the_same_update():
    from mmengine.optim import build_optim_wrapper

    from daseg.engine.param_groups import with_merged_groups
    recipe = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=6e-5, weight_decay=0.01),
                  paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'norm': dict(decay_mult=0.0)}))
    models = [build_dacs(size=(32, 32), seed=0) for _ in range(2)]
    per_tensor = build_optim_wrapper(models[0], recipe)
    merged = build_optim_wrapper(models[1], with_merged_groups(recipe))
    trainable = [p for p in models[0].parameters() if p.requires_grad]
    assert len(per_tensor.optimizer.param_groups) == len(trainable)
    # backbone, backbone norms, head (mmengine applies the first matching key only: 'head' before 'norm')
    assert sorted((g['lr'], g['weight_decay']) for g in merged.optimizer.param_groups) == [
        (6e-5, 0.0), (6e-5, 0.01), (pytest.approx(6e-4), 0.01)]
    assert sum(len(g['params']) for g in merged.optimizer.param_groups) == len(trainable)
    for model, wrapper in zip(models, (per_tensor, merged)):
        for iteration in range(2):
            step(model, wrapper, batch((32, 32), seed=iteration), iteration)
    for (name, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        assert torch.equal(a, b), name
