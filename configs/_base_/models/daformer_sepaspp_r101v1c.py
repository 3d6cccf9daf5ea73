# The DAFormer decoder (sep-ASPP fusion) on the DeepLabV2 ResNet-101 V1c encoder (output stride 8), as the
# model-merging work uses it. The head embeds the four stage outputs (256, 512, 1024, 2048 channels) and fuses
# them at the resolution of the first (stride 4). Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='CheckedResNetV1c',
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
    decode_head=dict(in_channels=[256, 512, 1024, 2048]))
