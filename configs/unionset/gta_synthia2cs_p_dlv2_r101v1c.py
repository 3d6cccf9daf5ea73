# Union-set adaptation, gta + synthia -> Cityscapes, setting 'p', on this project's DeepLab-v2 on ResNet-101 V1c
# (three 3x3 stem convs, mmcv's ImageNet weights pretrained/resnet101_v1c-e67eebb6.pth, ImageNet mean/std on RGB)
# instead of the original's MS-COCO DeepLab; the same classifier, stages and schedule.
_base_ = ['./gta_synthia2cs_p_dlv2.py']
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='CheckedResNetV1c', style='pytorch', contract_dilation=True,
                  pretrained='pretrained/resnet101_v1c-e67eebb6.pth'))
