# MIC(DAFormer), GTA to Cityscapes: the final DAFormer at 512x512 plus masked image consistency
# (separatetrgaug) with 32x32 blocks (half HRDA's 64, for crops of half the resolution), ratio 0.7, the DACS
# teacher's pseudo-labels, loss weight 1. Needs pretrained/mit_b5.pth.
_base_ = ['../daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5.py']
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=32))])
