# The HRDA self-training of dacs_a999_fdthings_hrda_mitb5.py around the HRDA segmentor with a ResNet-101 (V1c,
# output stride 8: dilations 1, 1, 2, 4) encoder and the DAFormer sep-ASPP head on its four stages, as the
# model-merging work trains it. Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = ['./dacs_a999_fdthings_hrda_mitb5.py']
model = dict(model=dict(
    backbone=dict(
        _delete_=True,
        type='CheckedResNetV1c',  # mmseg's ResNetV1c, weights read weights-only and strictly
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        pretrained='pretrained/resnet101_v1c-e67eebb6.pth'),
    decode_head=dict(in_channels=[256, 512, 1024, 2048])))
