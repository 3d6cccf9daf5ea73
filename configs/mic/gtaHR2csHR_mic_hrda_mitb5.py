# MIC(HRDA), GTA to Cityscapes: the final HRDA (configs/hrda/gtaHR2csHR_hrda_mitb5.py) plus masked image
# consistency on the colour-augmented, unmixed target images (mask_mode separatetrgaug): 64x64 blocks of the
# 1024x1024 crops masked with probability 0.7, pseudo-labels and confidence weights of the DACS teacher
# ('same'), loss weight 1. Seed 2, the median run of the released checkpoint. Needs pretrained/mit_b5.pth.
_base_ = ['../hrda/gtaHR2csHR_hrda_mitb5.py']
randomness = dict(seed=2)
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64))])
