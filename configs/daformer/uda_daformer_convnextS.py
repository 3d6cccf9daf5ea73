# The user's fork: uda_daformer_convnextB.py (the full DAFormer recipe, 512-channel DAFormer head, AdamW 8e-5) with
# a ConvNeXt-S encoder. Needs pretrained/convnext_small.pth (mmcls/mmpretrain or official layout)).
_base_ = ['./uda_daformer_convnextB.py']
model = dict(model=dict(backbone={{_base_.convnext_s}}, decode_head=dict(in_channels={{_base_.convnext_s_channels}})))
