"""HRDAHead: the scale-attention fusion, the attention outside the detail crop, the losses, its outputs and its
parameter names for the DAFormer and DeepLabV2 heads."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from daseg.errors import UserError
from hrda_models import SEGMENTOR, build_tiny_hrda


@MODELS.register_module(name='HRDATestPassthroughHead', force=True)
class PassthroughHead(BaseDecodeHead):
    """Returns its selected input map as the logits: the tests set predictions through the 'features'."""

    def forward(self, inputs):
        return self._transform_inputs(inputs)


def toy_head(**kwargs):
    """HRDAHead over pass-through heads with 2 classes: the segmentation head reads input map 0, the
    attention head map 1."""
    init_default_scope('mmseg')
    common = dict(in_channels=2, channels=2, num_classes=2)
    return MODELS.build(dict(type='HRDAHead', single_scale_head='HRDATestPassthroughHead', in_index=0,
                             scale_attention_cfg=dict(in_index=1, **common), **common, **kwargs))


def const(value, n=1, size=2):
    """[n, len(value), size, size] holding value[c] in channel c."""
    return torch.tensor(value, dtype=torch.float32).view(1, -1, 1, 1).expand(n, -1, size, size).clone()


def test_fusion_is_attention_weighted_on_a_hand_computed_case():
    head = toy_head()
    lr, hr = [1.0, -2.0], [3.0, 5.0]
    att_logit = math.log(3.0)  # sigmoid = 0.75
    # Context: logits over the whole 8x8 image at stride 4; detail: the whole image at stride 2.
    inputs = [[const(lr), const([att_logit, att_logit])],
              dict(features=[const(hr, size=4)], boxes=[(0, 8, 0, 8)], image_size=(8, 8))]
    out = head.forward_outputs(inputs)
    # fused = 0.75 * hr + 0.25 * lr: class 0: 2.25 + 0.25 = 2.5, class 1: 3.75 - 0.5 = 3.25.
    torch.testing.assert_close(out['fused'], const([2.5, 3.25], size=4))
    torch.testing.assert_close(out['att'], torch.full((1, 2, 4, 4), 0.75))
    torch.testing.assert_close(out['lr'], const(lr, size=4))
    torch.testing.assert_close(out['hr'], const(hr, size=4))


def test_fusion_with_a_detail_map_that_varies():
    head = toy_head()
    hr = torch.randn(2, 2, 4, 4)
    inputs = [[const([1.0, -2.0], n=2), torch.zeros(2, 2, 2, 2)],
              dict(features=[hr], boxes=[(0, 8, 0, 8)], image_size=(8, 8))]
    expected = 0.5 * hr + 0.5 * const([1.0, -2.0], n=2, size=4)  # sigmoid(0) = 0.5
    torch.testing.assert_close(head(inputs), expected)


def test_outputs_select_one_branch_or_the_attention():
    head = toy_head()
    inputs = [[const([1.0, -2.0]), const([0.0, 2.0])],
              dict(features=[const([3.0, 5.0], size=4)], boxes=[(0, 8, 0, 8)], image_size=(8, 8))]
    head.output = 'lr'
    torch.testing.assert_close(head(inputs), const([1.0, -2.0], size=4))
    head.output = 'hr'
    torch.testing.assert_close(head(inputs), const([3.0, 5.0], size=4))
    # The attention of the predicted classes: att = (0.5, sigmoid(2)), fused = att * hr + (1 - att) * lr.
    att = torch.tensor([0.5, 1 / (1 + math.exp(-2))])
    fused = att * torch.tensor([3.0, 5.0]) + (1 - att) * torch.tensor([1.0, -2.0])
    expected = float((att * torch.softmax(fused, dim=0)).sum())
    head.output = 'att'
    torch.testing.assert_close(torch.sigmoid(head(inputs)), torch.full((1, 1, 4, 4), expected))
    with pytest.raises(UserError, match='one of fused, lr, hr, att'):
        head.output = 'LR'


def test_attention_is_zero_outside_the_detail_crop():
    head = toy_head()
    # The detail crop is the top-right quarter of the 8x8 image; its logits are 2x2 at stride 2.
    inputs = [[torch.randn(1, 2, 2, 2), torch.randn(1, 2, 2, 2)],
              dict(features=[torch.randn(1, 2, 2, 2)], boxes=[(0, 4, 4, 8)], image_size=(8, 8))]
    att = head.forward_outputs(inputs)['att']
    inside = torch.zeros(4, 4, dtype=torch.bool)
    inside[:2, 2:] = True
    assert att[..., ~inside].eq(0).all()
    assert att[..., inside].gt(0).all()


def test_attention_of_the_real_model_is_zero_outside_its_random_crop():
    model = build_tiny_hrda()
    model.train()
    image = torch.randn(2, 3, 64, 96)
    for _ in range(3):
        box = model.random_detail_box(image)
        with torch.no_grad():
            att = model.decode_head.forward_outputs(model.multires_features(image, box))['att']
        assert att.shape == (2, 19, 16, 24)
        y1, y2, x1, x2 = (v // 4 for v in box)  # logits at stride 4
        inside = torch.zeros(16, 24, dtype=torch.bool)
        inside[y1:y2, x1:x2] = True
        assert att[..., ~inside].eq(0).all() and att[..., inside].gt(0).all()


def _weighted_ce(logits, label, weight):
    """mmseg 0.16's pixel-weighted cross-entropy: sum(w * ce) over all pixels (ignored: 0) / their number."""
    logits = F.interpolate(logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
    ce = F.cross_entropy(logits, label, ignore_index=255, reduction='none')
    return (weight * ce).sum() / label.numel()


def test_losses_are_fused_plus_weighted_detail_loss_on_cropped_labels():
    head = toy_head(hr_loss_weight=0.1)
    torch.manual_seed(0)
    hr_map = torch.randn(2, 2, 2, 2)
    box = (0, 4, 4, 8)
    inputs = [[torch.randn(2, 2, 2, 2), torch.randn(2, 2, 2, 2)],
              dict(features=[hr_map], boxes=[box], image_size=(8, 8))]
    label = torch.randint(0, 2, (2, 8, 8))
    label[:, 0, :] = 255
    weight = torch.rand(2, 8, 8)
    losses = head.loss_by_label(inputs, label.unsqueeze(1), weight)
    fused = head.forward_outputs(inputs)['fused']
    torch.testing.assert_close(losses['loss_ce'], 0.9 * _weighted_ce(fused, label, weight))
    torch.testing.assert_close(losses['hr.loss_ce'],
                               0.1 * _weighted_ce(hr_map, label[:, :4, 4:], weight[:, :4, 4:]))
    assert set(losses) == {'loss_ce', 'acc_seg', 'hr.loss_ce', 'hr.acc_seg'}


def test_daformer_hrda_head_has_the_original_parameter_names():
    head = build_tiny_hrda().decode_head
    keys = set(head.state_dict())
    assert not any(k.startswith(('conv_seg', 'dropout')) for k in keys)
    assert {'head.conv_seg.weight', 'head.fuse_layer.bottleneck.conv.weight',
            'scale_attention.fuse_layer.conv.weight', 'scale_attention.fuse_layer.bn.running_var',
            'scale_attention.conv_seg.weight'} <= keys
    assert not any(k.startswith('scale_attention.fuse_layer.aspp') for k in keys)
    assert head.scale_attention.conv_seg.out_channels == 19
    single = build_tiny_hrda(decode_head=dict(SEGMENTOR['decode_head'], attention_classwise=False)).decode_head
    assert single.scale_attention.conv_seg.out_channels == 1


def test_wraps_a_deeplabv2_head():
    if MODELS.get('DLV2Head') is None:
        pytest.skip('DLV2Head is not registered')
    init_default_scope('mmseg')
    head = MODELS.build(dict(type='HRDAHead', single_scale_head='DLV2Head', in_channels=16, in_index=3,
                             dilations=(6, 12), num_classes=19, hr_loss_weight=0.1))
    keys = set(head.state_dict())
    assert keys == {f'{part}.aspp_modules.{j}.conv.{p}' for part in ('head', 'scale_attention')
                    for j in (0, 1) for p in ('weight', 'bias')}
    lr = [torch.randn(1, 16, 4, 4)] * 4  # stride 8 over a 32x32 context image
    hr = dict(features=[torch.randn(1, 16, 4, 4)] * 4, boxes=[(0, 32, 32, 64)], image_size=(64, 64))
    out = head.forward_outputs([lr, hr])
    assert out['fused'].shape == (1, 19, 8, 8)
    assert out['att'][..., :4, :4].eq(0).all() and out['att'][..., 4:, :].eq(0).all()


def test_unknown_single_scale_head():
    init_default_scope('mmseg')
    with pytest.raises(UserError, match="single_scale_head 'NoSuchHead' is not a registered decode head"):
        MODELS.build(dict(type='HRDAHead', single_scale_head='NoSuchHead', in_channels=8, channels=8,
                          num_classes=19))
