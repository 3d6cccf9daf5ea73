# MRM on MIC(HRDA), GTA to Cityscapes (MRM runs after MIC's masked loss): the base recipe plus the Rebuilder on the
# last encoder stage (16x16 tokens, 40 % masked, 2 blocks of width 512, one projector per decoder level), trained
# against the DACS teacher's pseudo-labels of the unmixed target images, loss weight 1. Needs pretrained/mit_b5.pth.
_base_ = ['../mic/gtaHR2csHR_mic_hrda_mitb5.py']
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64)),
    dict(type='MaskedRepresentationModeling', lambda_mrm=1.0, domain='target',
         rebuilder=dict(embed_dim=512, grid=16, mask_ratio=0.4, depth=2, num_heads=16))])
# The Rebuilder's own parameter group: lr 2e-4 (the paper notes) = 6e-5 x 10 / 3 with AdamW like the rest.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'mrm.rebuilder': dict(lr_mult=10 / 3)}))
