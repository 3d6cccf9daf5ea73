# What the fork's "daformer_*_uda*" and "uper_*_uda" experiments share: DACS (alpha 0.999, no feature distance,
# no pseudo-label crop), GTA -> Cityscapes at 512x512 with the source drawn uniformly, the evaluation targets,
# and the fork's encoders as variables (models/fork_encoders.py). Experiments add an encoder and a schedule.
_base_ = [
    './default_runtime.py',
    './uda/dacs_a999_mitb5.py',
    './models/fork_encoders.py',
    './datasets/uda_gta_to_cityscapes_512x512_norcs.py',
    './datasets/eval_targets_512.py',
]
model = dict(model=dict(data_preprocessor=dict(size=(512, 512))))
