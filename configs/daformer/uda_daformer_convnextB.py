# The user's fork: the full DAFormer recipe (DACS alpha 0.999, rare-class sampling, ImageNet feature distance on
# thing classes, pseudo-label crop) with a ConvNeXt-B encoder and the 512-channel DAFormer head, GTA ->
# Cityscapes, AdamW 8e-5, 40k iterations. Needs pretrained/convnext_base.pth (mmcls/mmpretrain or official).
_base_ = ['../_base_/fork_daformer_gta2cs_512.py', '../_base_/schedules/adamw_convnext_poly10warm_40k.py']
model = dict(model=dict(
    backbone={{_base_.convnext_b}},
    decode_head=dict(in_channels={{_base_.convnext_b_channels}}, channels=512, decoder_params=dict(embed_dims=512))))
