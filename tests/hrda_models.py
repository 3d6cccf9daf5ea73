"""A tiny HRDA segmentor (MiT-B0 with narrow DAFormer heads) for the HRDA tests."""
import copy

from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import daseg  # noqa: F401  (registers the HRDA modules)

NORM = dict(type='BN', requires_grad=True)
SEGMENTOR = dict(
    type='HRDAEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(type='MiT', arch='b0', num_layers=[1, 1, 1, 1]),
    decode_head=dict(
        type='HRDAHead', single_scale_head='DAFormerHead', attention_classwise=True, attention_embed_dim=8,
        hr_loss_weight=0.1, in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], channels=8, dropout_ratio=0.1,
        num_classes=19, norm_cfg=NORM, align_corners=False,
        decoder_params=dict(embed_dims=8, fusion_cfg=dict(type='aspp', sep=True, dilations=(1, 6, 12, 18),
                                                          pool=False, act_cfg=dict(type='ReLU'), norm_cfg=NORM)),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    scales=[1, 0.5], hr_crop_size=[32, 32], crop_coord_divisible=8, feature_scale=0.5, hr_slide_inference=True,
    train_cfg=dict(), test_cfg=dict(mode='whole'))


def tiny_hrda_cfg(**overrides):
    """The tiny segmentor's config (a ConfigDict, as mmengine hands it to models), top-level keys replaced."""
    cfg = copy.deepcopy(SEGMENTOR)
    cfg.update(overrides)
    return ConfigDict(cfg)


def build_tiny_hrda(**overrides):
    init_default_scope('mmseg')
    return MODELS.build(tiny_hrda_cfg(**overrides))
