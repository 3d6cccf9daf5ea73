# DAFormer: MiT-B5 encoder + DAFormer head with depthwise-separable ASPP fusion (the final DAFormer/HRDA/MIC
# model). For another MiT variant inherit from daformer_sepaspp_mitb0.py or override both
# model.backbone.arch and model.decode_head.in_channels (b0: [32, 64, 160, 256], b1-b5: [64, 128, 320, 512]).
# UDAEncoderDecoder: mmseg's EncoderDecoder (same modules, keys and inference) that also loads the student of a
# UDA or merged checkpoint, e.g. through mmseg.apis.init_model.
model = dict(
    type='UDAEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(type='MiT', arch='b5', pretrained='pretrained/mit_b5.pth'),
    decode_head=dict(
        type='DAFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        decoder_params=dict(
            embed_dims=256,
            fusion_cfg=dict(
                type='aspp',
                sep=True,
                dilations=(1, 6, 12, 18),
                pool=False,
                act_cfg=dict(type='ReLU'),
                norm_cfg=dict(type='BN', requires_grad=True))),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
