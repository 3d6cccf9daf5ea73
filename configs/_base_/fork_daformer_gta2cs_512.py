# What the fork's "uda_daformer_*" and "*_DAFormer" experiments share: the full DAFormer recipe (DACS alpha 0.999,
# rare-class sampling, ImageNet feature distance on thing classes, pseudo-label crop), GTA -> Cityscapes at
# 512x512, the evaluation targets, and the fork's encoders as variables (models/fork_encoders.py). Experiments
# add an encoder and a schedule.
_base_ = [
    './default_runtime.py',
    './uda/dacs_a999_fdthings_mitb5.py',
    './models/fork_encoders.py',
    './datasets/uda_gta_to_cityscapes_512x512.py',
    './datasets/eval_targets_512.py',
]
model = dict(model=dict(data_preprocessor=dict(size=(512, 512))))
