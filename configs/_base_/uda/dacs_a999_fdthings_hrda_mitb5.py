# DACS self-training around the HRDA MiT-B5 segmentor: EMA teacher (alpha 0.999) whose pseudo-labels come from
# its full multi-resolution inference, threshold 0.968, ImageNet feature distance on thing classes (lambda
# 0.005) over the context features, ClassMix with colour jitter and blur. HRDA replaces DAFormer's row crop of
# the pseudo-labels by margins on the full target image (PseudoMarginMask in the target pipeline, per dataset).
_base_ = ['../models/hrda_daformer_sepaspp_mitb5.py']
model = dict(
    _delete_=True,
    type='DACS',
    model={{_base_.model}},
    alpha=0.999,
    pseudo_threshold=0.968,
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),
    imnet_feature_dist_scale_min_ratio=0.75,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    blur=True)
