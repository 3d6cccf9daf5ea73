# DDB's model (reference/ORIGINALS_2.md section 4.1): DeepLabV2 R101 V1c at output stride 8 with DDB's adapter
# head: 3x3 branches at rates 6 and 12 (2048 -> 128 channels each, BN + ReLU), concatenated (256), a 3x3 bottleneck
# (256 -> 256, BN + ReLU), dropout 0.1 and the 1x1 classifier. The bottleneck output is the feature of DDB's class
# prototypes. DDB trains with SyncBN; here BN, converted to SyncBN on several GPUs with --sync-bn (the keys are the
# same). Needs pretrained/resnet101_v1c-e67eebb6.pth (mmcv's ImageNet ResNet-101 V1c, `open-mmlab://resnet101_v1c`).
_base_ = ['./deeplabv2_r101v1c.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DLV2AdapterHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(6, 12),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        # As DDB's config: N(0, 0.01) on the branches (conv and BN scale), conv_seg keeps PyTorch's init.
        init_cfg=dict(type='Normal', std=0.01, override=dict(name='aspp_modules')),
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
