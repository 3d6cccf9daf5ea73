# DeepLabV2 on ResNet-101 V1c (three 3x3 stem convs), as in DAFormer/HRDA: output stride 8 (strides
# (1, 2, 1, 1), dilations (1, 1, 2, 4), the first block of a dilated stage at half the rate), BN trained, and
# the DeepLabV2 classifier: 3x3 convs at rates 6/12/18/24 from the 2048-channel map straight to the 19 logits,
# summed. Needs pretrained/resnet101_v1c-e67eebb6.pth (mmcv's ImageNet ResNet-101 V1c, `open-mmlab://resnet101_v1c`).
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='UDAEncoderDecoder',  # mmseg's EncoderDecoder that also loads the student of UDA checkpoints
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        # mmseg's ResNetV1c, loading its weights file weights-only and strictly.
        type='CheckedResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        pretrained='pretrained/resnet101_v1c-e67eebb6.pth'),
    decode_head=dict(
        type='DLV2Head',
        in_channels=2048,
        in_index=3,
        dilations=(6, 12, 18, 24),
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
