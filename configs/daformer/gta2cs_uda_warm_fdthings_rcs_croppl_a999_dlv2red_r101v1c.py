# The DAFormer training recipe on the CNN baseline, GTA to Cityscapes: DeepLabV2 (rates 6, 12) on ResNet-101
# V1c, DACS self-training with an EMA teacher (alpha 0.999), rare-class sampling (T 0.01), ImageNet feature
# distance on thing classes (lambda 0.005), pseudo-label crop, AdamW 6e-5 (head x10) with 1500-iteration
# warm-up and poly decay, 40k iterations, batch 2 + 2 (DAFormer Table 5, last row).
# Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_dlv2red_r101v1c.py',
    '../_base_/datasets/uda_gta_to_cityscapes_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
model = dict(model=dict(data_preprocessor=dict(size=(512, 512))))
