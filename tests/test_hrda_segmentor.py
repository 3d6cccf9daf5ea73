"""HRDAEncoderDecoder: sliding-window inference, training losses, its config errors, and loading a released
HRDA MiT-B5 checkpoint (original key names)."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from daseg.weights import load_segmentor_weights
from daseg.errors import UserError
from daseg.weights.mit_keys import mmseg_to_original
from entry_points import ROOT
from hrda_models import SEGMENTOR, build_tiny_hrda

METAS = [dict(ori_shape=(64, 96), img_shape=(64, 96), pad_shape=(64, 96))] * 2


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_tiny_hrda().eval()


def test_detail_slide_inference_equals_whole_image_when_one_window_covers_it(model):
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        model.hr_crop_size, model.hr_slide_inference = (64, 96), True
        assert len(model.multires_features(image)[1]['boxes']) == 1
        slide = model.encode_decode(image, METAS)
        model.hr_slide_inference = False
        whole = model.encode_decode(image, METAS)
        model.hr_crop_size, model.hr_slide_inference = (32, 32), True
        windows = model.encode_decode(image, METAS)
    torch.testing.assert_close(slide, whole)
    assert slide.shape == (2, 19, 64, 96)
    assert not torch.allclose(windows, whole)  # 3 x 5 overlapping 32x32 windows see less context


def test_batched_fused_slide_equals_mmseg_slide_and_whole_when_one_window_covers(model):
    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        model.test_cfg = Config(dict(mode='slide', batched_slide=True, crop_size=(64, 64), stride=(32, 32)))
        batched = model.inference(image, [dict(m) for m in METAS])
        model.test_cfg = Config(dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
        one_by_one = model.inference(image, [dict(m) for m in METAS])
        model.test_cfg = Config(dict(mode='slide', batched_slide=True, crop_size=(64, 128), stride=(32, 64)))
        covering = model.inference(image, [dict(m) for m in METAS])
        model.test_cfg = Config(dict(mode='whole'))
        whole = model.inference(image, [dict(m) for m in METAS])
    # mmseg's own loop over the windows is the second implementation of the batched one.
    torch.testing.assert_close(batched, one_by_one, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(covering, whole)


def test_training_losses_and_context_features():
    model = build_tiny_hrda().train()
    image, label = torch.randn(2, 3, 64, 96), torch.randint(0, 19, (2, 1, 64, 96))
    losses, feats = model.loss_by_label(image, label, torch.ones(2, 64, 96))
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'decode.hr.loss_ce', 'decode.hr.acc_seg'}
    assert feats[-1].shape[-2:] == (1, 2)  # stage 4 (stride 32) of the 32x48 context image
    (losses['decode.loss_ce'] + losses['decode.hr.loss_ce']).backward()
    assert model.decode_head.scale_attention.conv_seg.weight.grad.abs().sum() > 0
    # The ImageNet feature distance compares the same context features.
    assert [f.shape for f in model.extract_feat(image)] == [f.shape for f in feats]


@pytest.mark.parametrize('overrides, message', [
    (dict(scales=[1, 0.5, 0.25]), 'scales must be a context scale'),
    (dict(scales=[0.5, 0.75]), 'scales must be a context scale'),
    (dict(feature_scale=1), 'feature_scale must be the context scale 0.5'),
    (dict(hr_crop_size=[32]), 'hr_crop_size must be'),
    (dict(crop_coord_divisible=0), 'crop_coord_divisible'),
    (dict(decode_head=dict(SEGMENTOR['decode_head'], type='DAFormerHead')), 'needs decode_head type HRDAHead'),
])
def test_config_errors(overrides, message):
    if 'decode_head' in overrides:
        head = dict(overrides['decode_head'])
        for key in ('single_scale_head', 'attention_classwise', 'attention_embed_dim', 'hr_loss_weight'):
            head.pop(key)
        overrides = dict(decode_head=head)
    with pytest.raises(UserError, match=message):
        build_tiny_hrda(**overrides)


# -- a released HRDA checkpoint -------------------------------------------------------------------------------

MIT_B5_CHANNELS = (64, 128, 320, 512)


def _bn(keys, prefix, channels):
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        keys[f'{prefix}.{name}'] = (channels,)
    keys[f'{prefix}.num_batches_tracked'] = ()


def original_hrda_head_shapes():
    """Key -> shape of the decode head of a released HRDA MiT-B5 checkpoint (ORIGINALS section 5), by hand."""
    keys = {}
    for part in ('head', 'scale_attention'):
        prefix = f'decode_head.{part}'
        for i, channels in enumerate(MIT_B5_CHANNELS):
            keys[f'{prefix}.embed_layers.{i}.proj.weight'] = (256, channels)
            keys[f'{prefix}.embed_layers.{i}.proj.bias'] = (256,)
        keys[f'{prefix}.conv_seg.weight'] = (19, 256, 1, 1)
        keys[f'{prefix}.conv_seg.bias'] = (19,)
    fuse = 'decode_head.head.fuse_layer'
    keys[f'{fuse}.aspp_modules.0.conv.weight'] = (256, 1024, 1, 1)
    _bn(keys, f'{fuse}.aspp_modules.0.bn', 256)
    for j in (1, 2, 3):
        keys[f'{fuse}.aspp_modules.{j}.depthwise_conv.conv.weight'] = (1024, 1, 3, 3)
        _bn(keys, f'{fuse}.aspp_modules.{j}.depthwise_conv.bn', 1024)
        keys[f'{fuse}.aspp_modules.{j}.pointwise_conv.conv.weight'] = (256, 1024, 1, 1)
        _bn(keys, f'{fuse}.aspp_modules.{j}.pointwise_conv.bn', 256)
    keys[f'{fuse}.bottleneck.conv.weight'] = (256, 1024, 3, 3)
    _bn(keys, f'{fuse}.bottleneck.bn', 256)
    keys['decode_head.scale_attention.fuse_layer.conv.weight'] = (256, 1024, 1, 1)
    _bn(keys, 'decode_head.scale_attention.fuse_layer.bn', 256)
    return keys


def test_released_hrda_mitb5_checkpoint_loads_without_missing_or_unexpected_keys(tmp_path, no_random_init):
    # No random initial values (no_random_init): the checkpoint below gives every value the test compares.
    init_default_scope('mmseg')
    cfg = Config.fromfile(ROOT / 'configs/_base_/models/hrda_daformer_sepaspp_mitb5.py')
    cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model)
    generator = torch.Generator().manual_seed(0)
    original = {}
    for key, shape in original_hrda_head_shapes().items():
        original[key] = (torch.tensor(7) if key.endswith('num_batches_tracked')
                         else torch.randn(shape, generator=generator))
    # The backbone in the original SegFormer layout (patch_embed1, block1.0.attn.q/kv, ...), random values.
    backbone = mmseg_to_original({k: torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
                                  for k, v in model.backbone.state_dict().items()})
    assert 'block1.0.attn.kv.weight' in backbone and 'norm4.weight' in backbone
    original.update({f'backbone.{k}': v for k, v in backbone.items()})
    # A training checkpoint: the same weights for student, teacher and ImageNet model (stored once by torch.save).
    state_dict = {f'{prefix}.{k}': v for prefix in ('model', 'ema_model', 'imnet_model') for k, v in original.items()}
    path = tmp_path / 'iter_40000.pth'
    torch.save({'meta': {'iter': 40000}, 'state_dict': state_dict}, path)

    for which in ('student', 'teacher'):
        load_segmentor_weights(model, str(path), which)  # raises UserError on any missing or unexpected key
    own = model.state_dict()
    for key in ('decode_head.head.conv_seg.weight', 'decode_head.scale_attention.fuse_layer.conv.weight',
                'decode_head.head.fuse_layer.aspp_modules.2.depthwise_conv.bn.running_var'):
        assert torch.equal(own[key], original[key]), key
    assert torch.equal(mmseg_to_original(model.backbone.state_dict())['block2.1.attn.kv.weight'],
                       original['backbone.block2.1.attn.kv.weight'])
    assert not any(k.startswith('decode_head.conv_seg') for k in own)
