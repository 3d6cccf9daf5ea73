# The target of every union-set config: Cityscapes (train images for the pseudo-labels and stages 1-2, the
# labelled val set for the table and, only when asked, model selection), on the original's model and schedule.
_base_ = ['./dlv2_r101_sgd_80k.py']
stages = dict(
    type='UnionSetStages',
    target_images={{_base_.cityscapes_train_images}},
    target_train_pipeline={{_base_.pseudo_label_pipeline}},
    target_val={{_base_.cityscapes_val}})
