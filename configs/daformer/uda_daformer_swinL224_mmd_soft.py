# uda_daformer_swinL224.py (the full DAFormer recipe, Swin-L) + "mmd" (MMD of pooled last-stage features of the
# source and mixed images, weight 0.05, with gradient) + "soft" (0.9 x mixed loss + 0.1 x the student's loss on
# the unmixed target against the pseudo-labels).
_base_ = ['./uda_daformer_swinL224.py']
model = dict(mix_loss_weight=0.9,
             components=[dict(type='TargetConsistency', loss_weight=0.1), dict(type='FeatureMMD', loss_weight=0.05)])
