# The DAFormer optimiser recipe with layer-wise learning-rate decay for ViT-B encoders (BEiT, MAE): layer i of
# 12 at 0.9 ** (13 - i) of the rate (mmseg's BEiT setting; MAE configs set decay_rate=0.65), the heads at 10x,
# no weight decay on biases, 1-d tensors and tokens (daseg.engine.layer_decay). The fork used plain AdamW here.
_base_ = ['./adamw_poly10warm_40k.py']
optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(num_layers=12, decay_rate=0.9))
