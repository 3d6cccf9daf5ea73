"""UPerNet and FCN heads trained on pseudo-labels: the same losses as mmseg's own path, and an auxiliary head's
losses added (prefixed ``aux.``, times its loss weight) to every ``loss_by_label`` call of the segmentor."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import daseg  # noqa: F401  (registers the heads)
from daseg.errors import UserError

# MiT with embed_dims 8 and one head per stage: 8 channels per stage.
CHANNELS = [8, 8, 8, 8]


def _segmentor(aux=True, aux_type='FCNLabelHead'):
    init_default_scope('mmseg')
    cfg = dict(
        type='UDAEncoderDecoder',
        backbone=dict(type='MiT', arch='b0', embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                      original_numerics=False),
        decode_head=dict(type='UPerLabelHead', in_channels=CHANNELS, in_index=[0, 1, 2, 3],
                         pool_scales=(1, 2), channels=8, num_classes=3, norm_cfg=dict(type='BN'),
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        test_cfg=dict(mode='whole'))
    if aux:
        cfg['auxiliary_head'] = dict(type=aux_type, in_channels=CHANNELS[2], in_index=2, channels=4, num_convs=1,
                                     concat_input=False, num_classes=3, norm_cfg=dict(type='BN'),
                                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()  # eval: BN statistics fixed, so repeated forwards agree


def test_uper_head_losses_equal_mmsegs_own_loss():
    model = _segmentor(aux=False)
    img, label = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 32, 32))
    samples = [SegDataSample(gt_sem_seg=PixelData(data=lab[None])) for lab in label]
    feats = model.extract_feat(img)
    ours = model.decode_head.loss_by_label(feats, label)['loss_ce']
    mmseg = type(model.decode_head).__mro__[2].loss(model.decode_head, feats, samples, None)['loss_ce']
    assert ours.item() == pytest.approx(mmseg.item(), rel=1e-6)


def test_auxiliary_head_adds_its_weighted_losses_to_loss_by_label():
    model = _segmentor()
    img, label = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 32, 32))
    weight = torch.rand(2, 32, 32)
    losses, feats = model.loss_by_label(img, label, weight)
    assert {'decode.loss_ce', 'aux.loss_ce', 'decode.acc_seg', 'aux.acc_seg'} <= set(losses)
    # The auxiliary loss by hand: FCN logits on the third map, resized to the labels, weighted CE over all pixels.
    logits = F.interpolate(model.auxiliary_head(feats), size=(32, 32), mode='bilinear', align_corners=False)
    expected = 0.4 * (F.cross_entropy(logits, label, reduction='none') * weight).mean()
    assert losses['aux.loss_ce'].item() == pytest.approx(expected.item(), rel=1e-5)
    losses['aux.loss_ce'].backward()
    assert model.backbone.layers[2][0].projection.weight.grad.abs().sum() > 0


def test_a_head_without_label_losses_is_refused():
    with pytest.raises(UserError, match='FCNHead cannot train on pseudo-labels'):
        _segmentor(aux_type='FCNHead')
