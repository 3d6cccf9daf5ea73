# The user's fork: uda_daformer_convnextB.py (the full DAFormer recipe, 512-channel DAFormer head, AdamW 8e-5) with
# a ConvNeXt-L encoder. Needs pretrained/convnext_large.pth (mmcls/mmpretrain or official layout; ImageNet-21k).
_base_ = ['./uda_daformer_convnextB.py']
model = dict(model=dict(backbone={{_base_.convnext_l}}, decode_head=dict(in_channels={{_base_.convnext_l_channels}})))
