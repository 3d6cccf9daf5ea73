# The final DAFormer self-training (see dacs_a999_fdthings_mitb5.py: DACS with an EMA teacher, alpha 0.999,
# pseudo-label threshold 0.968, ImageNet feature distance on thing classes with lambda 0.005, pseudo-label crop)
# around DeepLabV2 (rates 6, 12) on ResNet-101 V1c. The feature distance uses the last stage (2048 channels,
# stride 8), as in the original.
_base_ = ['../models/deeplabv2red_r101v1c.py']
model = dict(
    _delete_=True,
    type='DACS',
    model={{_base_.model}},
    alpha=0.999,
    pseudo_threshold=0.968,
    pseudo_weight_ignore_top=15,
    pseudo_weight_ignore_bottom=120,
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),
    imnet_feature_dist_scale_min_ratio=0.75,
    color_jitter_strength=0.2,
    color_jitter_probability=0.2,
    blur=True)
