# SegFormer: MiT-B5 encoder + mmseg's SegformerHead with 768 channels (the original segformer_b5 decoder width).
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    type='EncoderDecoder',  # mmseg's SegformerHead cannot train on pseudo-labels (UDAEncoderDecoder needs that)
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=768,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
