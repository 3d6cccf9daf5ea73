# MRM on DACS with DeepLabV2 ResNet-101, Synthia to Cityscapes: as gta2cs_dacs_mrm_dlv2.py with the Synthia source
# (16 classes also reported). Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_dlv2red_r101v1c.py',
    '../_base_/datasets/uda_synthia_to_cityscapes_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
model = dict(model=dict(data_preprocessor=dict(size=(512, 512))), components=[
    dict(type='MaskedRepresentationModeling', lambda_mrm=1.0, domain='target',
         rebuilder=dict(embed_dim=512, grid=16, mask_ratio=0.4, depth=2, num_heads=16))])
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'mrm.rebuilder': dict(lr_mult=10 / 3)}))
