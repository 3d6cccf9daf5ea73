# Named in the user's command list: the full DAFormer recipe (rare-class sampling, ImageNet feature distance,
# pseudo-label crop) with Swin-B, "soft" and "paste". The fork's file of this name wrote soft_past=True, a typo
# that left the paste off; here it is on.
_base_ = ['../_base_/fork_daformer_gta2cs_512.py', '../_base_/schedules/adamw_swin_poly10warm_40k.py']
model = dict(
    model=dict(backbone={{_base_.swin_b}}, decode_head=dict(in_channels={{_base_.swin_b_channels}})),
    mix_loss_weight=0.9,
    mixed_transforms=[dict(type='RareClassPaste')],
    components=[dict(type='TargetConsistency', loss_weight=0.1)])
train_dataloader = dict(dataset=dict(paste=dict()))
