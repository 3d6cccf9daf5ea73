# The user's fork: uper_beit_DAFomer.py (ViT-B + Feature2Pyramid + UPerNet + FCN auxiliary head, the full DAFormer
# recipe) with the MAE encoder and layer-wise decay 0.65 (mmseg's MAE setting). Needs pretrained/mae_base.pth
# (mae_pretrain_vit_base.pth, official or mmseg layout).
_base_ = ['./uper_beit_DAFomer.py']
model = dict(model=dict(backbone={{_base_.mae_b}}))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.65))
