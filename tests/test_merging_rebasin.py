"""Permutation alignment: a permuted ResNet segmentor computes the same function, and weight matching undoes
the permutation."""
import pytest
import torch

from daseg.errors import UserError
from daseg.merging.rebasin import permute, resnet_permutation_spec, weight_matching
from merging_models import build_segmentor, dlv2_head, logits


def _shapes(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


def _random_perms(spec, sd, seed):
    gen = torch.Generator().manual_seed(seed)
    perms = {}
    for name, members in spec.groups.items():
        key, axis = members[0]
        perms[name] = torch.randperm(sd[key].shape[axis], generator=gen)
    return perms


@pytest.fixture(scope='module')
def model_and_spec():
    model = build_segmentor()
    sd = model.state_dict()
    return model, sd, resnet_permutation_spec(_shapes(sd))


def test_spec_covers_every_permuted_tensor_and_never_the_rgb_input(model_and_spec):
    _, sd, spec = model_and_spec
    assert spec.axes['backbone.stem.0.weight'][1] is None
    assert spec.axes['backbone.stem.7.running_mean'] == ('stream0',)
    assert spec.axes['backbone.layer1.0.downsample.0.weight'][:2] == ('stream1', 'stream0')
    assert spec.axes['backbone.layer2.1.conv1.weight'][1] == 'stream2'
    assert spec.axes['decode_head.embed_layers.3.proj.weight'] == (None, 'stream4')
    # Every backbone tensor except the integer counters carries a permutation.
    assert {k for k in sd if k.startswith('backbone.') and not k.endswith('num_batches_tracked')} <= set(spec.axes)
    # Residual streams have the stage widths; tiny ResNetV1c-50 has 3+4+6+3 blocks with 2 inner groups each.
    sizes = {name: sd[m[0][0]].shape[m[0][1]] for name, m in spec.groups.items()}
    assert [sizes[f'stream{i}'] for i in range(5)] == [8, 16, 32, 64, 128]
    assert sum(name.startswith('layer') for name in sizes) == 2 * (3 + 4 + 6 + 3)


def test_permuted_copy_computes_the_same_function(model_and_spec):
    model, sd, spec = model_and_spec
    x = torch.randn(2, 3, 48, 48)
    expected = logits(model, x)
    permuted = permute(spec, _random_perms(spec, sd, seed=1), sd)
    assert any(not torch.equal(permuted[k], sd[k]) for k in spec.axes)
    copy = build_segmentor(seed=5)
    copy.load_state_dict(permuted)
    torch.testing.assert_close(logits(copy, x), expected, rtol=1e-4, atol=1e-4)


def test_deeplabv2_head_reads_the_permuted_last_stage():
    model = build_segmentor(head=dlv2_head)
    sd = model.state_dict()
    spec = resnet_permutation_spec(_shapes(sd))
    assert spec.axes['decode_head.aspp_modules.1.conv.weight'] == (None, 'stream4', None, None)
    x = torch.randn(1, 3, 40, 40)
    copy = build_segmentor(head=dlv2_head, seed=3)
    copy.load_state_dict(permute(spec, _random_perms(spec, sd, seed=4), sd))
    torch.testing.assert_close(logits(copy, x), logits(model, x), rtol=1e-4, atol=1e-4)


def test_weight_matching_recovers_a_random_permutation(model_and_spec):
    _, sd, spec = model_and_spec
    permuted = permute(spec, _random_perms(spec, sd, seed=2), sd)
    perms, passes = weight_matching(spec, sd, permuted)
    aligned = permute(spec, perms, permuted)
    assert passes >= 2
    for key, value in sd.items():
        assert torch.equal(aligned[key], value), key


def test_unknown_layouts_are_refused(model_and_spec):
    _, sd, _ = model_and_spec
    shapes = _shapes(sd)
    with pytest.raises(UserError, match='another backbone'):
        resnet_permutation_spec({'backbone.layers.0.0.projection.weight': (32, 3, 7, 7)})
    with pytest.raises(UserError, match='cannot align'):
        resnet_permutation_spec({k: v for k, v in shapes.items() if 'embed_layers' not in k})
    with pytest.raises(UserError, match='outside the ResNet layout'):
        resnet_permutation_spec(dict(shapes, **{'backbone.layer1.0.conv2_offset.weight': (18, 4, 3, 3)}))
