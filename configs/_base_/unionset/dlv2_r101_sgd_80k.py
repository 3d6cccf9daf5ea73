# Union-set adaptation's model and schedule (ORIGINALS_2.md 5.2): one branch per source, each the original
# DeepLab-v2 ResNet-101 from pretrained/DeepLab_init.pth with the rate-6 + rate-12 classifier over the source's own
# label set; Caffe input normalisation (BGR minus the ImageNet mean, no division); SGD 2.5e-4, poly 0.9, 80k
# iterations per training stage, batch 1.
_base_ = [
    '../default_runtime.py',
    '../models/deeplabv2_r101_deeplab_init.py',
    '../schedules/sgd_poly09_80k.py',
    './datasets_cityscapes.py',
]
model = dict(
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[104.00698793, 116.66876762, 122.67891434],
                           std=[1.0, 1.0, 1.0], bgr_to_rgb=False, size_divisor=8, pad_val=0,
                           seg_pad_val=255),
    backbone={{_base_.deeplab_r101}},
    decode_head={{_base_.dlv2red_head}},
    align_corners=True)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2))
