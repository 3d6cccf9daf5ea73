# daformer_swinB_uda_soft_paste.py + "mmd": multi-kernel Gaussian MMD (weight 0.05) between the pooled last-stage
# features of the source and of the mixed images, with gradient into the encoder (the fork's was detached).
_base_ = ['./daformer_swinB_uda_soft_paste.py']
model = dict(components=[dict(type='TargetConsistency', loss_weight=0.1), dict(type='FeatureMMD', loss_weight=0.05)])
