# CPU demo: MIC on top of the demo DACS (configs/demo/gta2cityscapes_dacs.py): the student also learns the DACS
# teacher's pseudo-labels of the colour-augmented, unmixed target images from copies with 8x8 blocks of the
# 128x128 crops masked with probability 0.7 (MIC(DAFormer)'s 32-pixel blocks of 512 crops, scaled to the crop).
# Run with --cfg-options load_from=<source-only checkpoint>, like the DACS demo it is compared with.
_base_ = ['./gta2cityscapes_dacs.py']
model = dict(components=[
    dict(type='MaskedConsistency', mask_mode='separatetrgaug', mask_alpha='same', mask_pseudo_threshold='same',
         mask_lambda=1, mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=8))])
