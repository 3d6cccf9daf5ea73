# DDB's optimiser (adamw.py / poly10warm.py of xiaoachen98/DDB): the DAFormer recipe (AdamW lr 6e-5, betas
# (0.9, 0.999), weight decay 0.01, poly(1.0) over 40k iterations after a linear warm-up over 1500 from 1e-6) with
# the decode head at 10x the rate as its only parameter rule (no exemptions from weight decay).
_base_ = ['./adamw_poly10warm_40k.py']
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True, head=dict(lr_mult=10.0))))
