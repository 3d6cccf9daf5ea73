# The user's fork: the full DAFormer recipe (DACS alpha 0.999, rare-class sampling, ImageNet feature distance on
# thing classes, pseudo-label crop) with a Swin-L encoder pre-trained at 224 (window 7) and the DAFormer head,
# GTA -> Cityscapes, 40k iterations, batch 2 + 2. Needs pretrained/swin_large.pth (official or mmseg layout).
_base_ = ['../_base_/fork_daformer_gta2cs_512.py', '../_base_/schedules/adamw_swin_poly10warm_40k.py']
model = dict(model=dict(backbone={{_base_.swin_l224}}, decode_head=dict(in_channels={{_base_.swin_l_channels}})))
