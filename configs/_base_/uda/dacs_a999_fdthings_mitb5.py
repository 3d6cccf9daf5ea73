# The final DAFormer self-training (DACS with an EMA teacher, alpha 0.999, pseudo-label threshold 0.968,
# ImageNet feature distance on thing classes with lambda 0.005, pseudo-label crop of the top 15 and bottom
# 120 rows) around the DAFormer MiT-B5 segmentor.
_base_ = ['./dacs_a999_mitb5.py']
model = dict(
    pseudo_weight_ignore_top=15,
    pseudo_weight_ignore_bottom=120,
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=(6, 7, 11, 12, 13, 14, 15, 16, 17, 18),
    imnet_feature_dist_scale_min_ratio=0.75)
