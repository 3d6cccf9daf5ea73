# MIC with the DeepLabV2 ResNet-101, GTA to Cityscapes: the DAFormer recipe on DeepLabV2 (rates 6, 12) with
# ResNet-101 V1c plus masked image consistency (separatetrgaug), 32x32 blocks of the 512x512 crops, ratio 0.7,
# the DACS teacher's pseudo-labels, loss weight 1. Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = ['../daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_dlv2red_r101v1c.py']
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=32))])
