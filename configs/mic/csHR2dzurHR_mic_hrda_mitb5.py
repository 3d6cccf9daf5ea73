# MIC(HRDA), Cityscapes to Dark Zurich: HRDA plus masked image consistency in MIC's 'separate' mode, 64x64
# blocks, ratio 0.7, the DACS teacher's pseudo-labels, loss weight 1. Needs pretrained/mit_b5.pth.
_base_ = ['../hrda/csHR2dzurHR_hrda_mitb5.py']
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separate', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64))])
