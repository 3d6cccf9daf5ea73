# MRM on DACS with DeepLabV2 (rates 6, 12) on ResNet-101 V1c, GTA to Cityscapes (the name the MRM release
# announces). The base is this project's DeepLabV2 recipe (configs/daformer/..._dlv2red_r101v1c.py: DACS with an EMA
# teacher, rare-class sampling, ImageNet feature distance, AdamW with warm-up), plus the Rebuilder on the last
# ResNet stage (16x16 tokens, 40 % masked, 2 blocks of width 512), trained against the DACS teacher's pseudo-labels
# of the unmixed target images, loss weight 1. Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = ['../daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_dlv2red_r101v1c.py']
model = dict(components=[dict(type='MaskedRepresentationModeling', lambda_mrm=1.0, domain='target',
                              rebuilder=dict(embed_dim=512, grid=16, mask_ratio=0.4, depth=2, num_heads=16))])
# The Rebuilder's own parameter group: lr 2e-4 (the paper notes) = 6e-5 x 10 / 3 with AdamW like the rest.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'mrm.rebuilder': dict(lr_mult=10 / 3)}))
