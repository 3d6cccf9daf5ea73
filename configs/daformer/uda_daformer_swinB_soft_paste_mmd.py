# Named in the user's command list (no such file in the fork): uda_daformer_swinB_soft_paste.py + "mmd".
_base_ = ['./uda_daformer_swinB_soft_paste.py']
model = dict(components=[dict(type='TargetConsistency', loss_weight=0.1), dict(type='FeatureMMD', loss_weight=0.05)])
