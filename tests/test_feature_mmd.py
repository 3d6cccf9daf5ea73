"""MMD feature alignment: the multi-kernel MMD against a plain loop over the pairs, the component's loss (0.05 x the
MMD of the pooled last-stage features of source and mixed / target images) and its gradient into the encoder."""
import math

import pytest
import torch

from daseg.errors import UserError
from daseg.models.uda import FeatureMMD, multi_kernel_mmd
from daseg.models.uda.components import teacher_pseudo_labels
from speed_models import batch, build_dacs, sgd, step

# Tiny models: one thread is faster, and leaves the other cores to the rest of the suite.
pytestmark = pytest.mark.usefixtures('one_thread')
SIZE = (32, 32)


def loop_mmd(source, target, kernel_mul=2.0, kernel_num=5):
    """The fork's multi-kernel MMD written out pair by pair, in float64."""
    rows = [[float(v) for v in row] for row in torch.cat([source, target])]
    n, b = len(rows), len(source)
    dist = [[sum((x - y) ** 2 for x, y in zip(rows[i], rows[j])) for j in range(n)] for i in range(n)]
    beta = sum(map(sum, dist)) / (n * n - n) / kernel_mul ** (kernel_num // 2)

    def k(i, j):
        return sum(math.exp(-dist[i][j] / (beta * kernel_mul ** q)) for q in range(kernel_num))
    total = 0.0
    for i in range(b):
        for j in range(b):
            total += k(i, j) + k(b + i, b + j) - k(i, b + j) - k(b + i, j)
    return total / (b * b)


@pytest.mark.parametrize('b, c', [(2, 3), (3, 7)])
def test_mmd_equals_the_pairwise_loop(b, c):
    generator = torch.Generator().manual_seed(b)
    source, target = torch.randn(b, c, generator=generator), torch.randn(b, c, generator=generator) + 0.5
    assert multi_kernel_mmd(source, target).item() == pytest.approx(loop_mmd(source, target), rel=1e-5)
    assert multi_kernel_mmd(source, target, 3.0, 3).item() == pytest.approx(loop_mmd(source, target, 3.0, 3),
                                                                           rel=1e-5)
    # Equal batches have no discrepancy; all-equal features give 0, not 0 / 0.
    assert multi_kernel_mmd(source, source).item() == pytest.approx(0, abs=1e-6)
    assert multi_kernel_mmd(torch.ones(b, c), torch.ones(b, c)).item() == 0


def features_and_step(model, data, domain):
    """The step after ClassMix ran, and the pooled last-stage features of its source and other images (no grad)."""
    uda_step = model.begin_step(data)
    for name, policy in model.teachers.items():
        policy.update(getattr(model, name), model.model, uda_step.iteration)
    model.mix.class_mix(model, uda_step, *teacher_pseudo_labels(model, uda_step, 'ema_model'))
    other = uda_step.target.img if domain == 'target' else uda_step.cache['class_mix']['image']
    with torch.no_grad():
        torch.manual_seed(7)  # the same drop-path draws as the component's forward passes
        pooled = [model.model.extract_feat(img)[-1].mean(dim=(2, 3)) for img in (uda_step.source.img, other)]
    return uda_step, pooled


@pytest.mark.parametrize('domain', ['mixed', 'target'])
def test_component_is_weighted_mmd_of_pooled_features_with_gradient_into_the_encoder(domain):
    model = build_dacs(size=SIZE, components=[dict(type='FeatureMMD', domain=domain)])
    uda_step, (source, other) = features_and_step(model, batch(SIZE), domain)
    assert source.shape == (2, 256)  # MiT-B0's last stage
    model.zero_grad()
    torch.manual_seed(7)
    loss = model.mmd.loss(model, uda_step)['loss_mmd']
    assert loss.item() == pytest.approx(0.05 * loop_mmd(source, other), rel=1e-4)
    assert loss.item() > 0
    loss.backward()
    encoder = [p.grad for p in model.model.backbone.parameters()]
    assert all(g is not None for g in encoder) and sum(g.abs().sum() for g in encoder) > 0
    assert all(p.grad is None for p in model.model.decode_head.parameters())
    assert all(p.grad is None for p in model.ema_model.parameters())


def test_dacs_with_mmd_trains_through_routed_calls_and_misplaced_mmd_stops_with_one_line():
    model = build_dacs(size=SIZE, components=[dict(type='FeatureMMD')])
    calls = []

    def entry(inputs, mode, **kwargs):  # what DDP's forward would be
        calls.append(mode)
        return model.model(inputs, mode=mode, **kwargs)
    model.model.route_calls(entry)
    log = step(model, sgd(model), batch(SIZE), 0)
    # Every student forward pass with a gradient goes through the entry (DDP must see it); the MMD's trains the
    # encoder only, which DDP is told (find_unused_parameters).
    assert calls == ['loss_by_label', 'loss_by_label', 'train_features', 'train_features']
    assert model.mmd.trains_whole_student is False
    torch.testing.assert_close(log['loss'], log['src.loss'] + log['mix.loss'] + log['mmd.loss'])
    assert log['mmd.loss'] == log['mmd.loss_mmd'] > 0
    with pytest.raises(UserError, match=r"put it after a ClassMixSelfTraining"):
        model.mmd.loss(model, model.begin_step(batch(SIZE)))
    with pytest.raises(UserError, match='FeatureMMD domain must be one of mixed, target'):
        FeatureMMD(domain='source')
