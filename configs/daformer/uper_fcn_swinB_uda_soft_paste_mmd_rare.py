# The user's fork: daformer_swinB_uda_soft_paste_mmd_rare.py with UPerNet (pyramid pooling, 512 channels) and an
# FCN auxiliary head (third stage, loss 0.4) in place of the DAFormer head; the auxiliary head's losses follow
# the same weights (the fork left its mixed auxiliary loss unscaled by "soft").
_base_ = ['./daformer_swinB_uda_soft_paste_mmd_rare.py']
model = dict(model=dict(decode_head={{_base_.uper_swin_b_head}}, auxiliary_head={{_base_.uper_swin_b_aux}}))
