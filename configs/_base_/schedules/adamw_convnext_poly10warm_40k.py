# The DAFormer optimiser recipe at the fork's ConvNeXt learning rate, 8e-5. The fork's adamw_fp16 asked for
# fp16 loss scaling, but its optimizer_config=None removed the hook and it trained in fp32; here it is fp32 too
# unless run_experiments.py --amp bf16 asks for mixed precision.
_base_ = ['./adamw_poly10warm_40k.py']
optim_wrapper = dict(optimizer=dict(lr=8e-05))
