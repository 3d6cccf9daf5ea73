# The user's fork: Swin-B + DAFormer head (sep-ASPP), DACS (EMA teacher alpha 0.999, no feature distance, no
# rare-class sampling, no pseudo-label crop) with "soft": 0.9 x the ClassMix loss + 0.1 x the student's loss on
# the unmixed target against the pseudo-labels (the fork's 0.1 term ran the frozen teacher and had no gradient).
# GTA -> Cityscapes, 40k iterations, batch 2 + 2. Needs pretrained/swin_base.pth (official or mmseg layout).
_base_ = ['../_base_/fork_dacs_gta2cs_512.py', '../_base_/schedules/adamw_swin_poly10warm_40k.py']
model = dict(
    model=dict(backbone={{_base_.swin_b}}, decode_head=dict(in_channels={{_base_.swin_b_channels}})),
    mix_loss_weight=0.9,
    components=[dict(type='TargetConsistency', loss_weight=0.1)])
