# CPU demo: gta2cityscapes_dacs_swin.py with the fork's three additions, as in its
# daformer_swinB_uda_soft_paste_mmd.py: "soft" (0.9 x mixed loss + 0.1 x the student's loss on the unmixed
# target), "paste" (2 classes of rider, bus, train, motorcycle, bicycle pasted from source crops; 120 pixels of
# the 256x144 demo images for the 3000 of a GTA image, as the demo's rare-class sampling) and "mmd" (weight 0.05).
_base_ = ['./gta2cityscapes_dacs_swin.py']
model = dict(mix_loss_weight=0.9, mixed_transforms=[dict(type='RareClassPaste')],
             components=[dict(type='TargetConsistency', loss_weight=0.1), dict(type='FeatureMMD', loss_weight=0.05)])
train_dataloader = dict(dataset=dict(paste=dict(min_pixels=120)))
