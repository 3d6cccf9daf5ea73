# The DAFormer optimiser recipe for Swin encoders (the fork's adamw_swin): no weight decay on the absolute
# position embedding and the relative position bias tables either (norms carry none already).
_base_ = ['./adamw_poly10warm_40k.py']
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'absolute_pos_embed': dict(decay_mult=0.0),
    'relative_position_bias_table': dict(decay_mult=0.0),
}))
