# DDB multi-source, GTA + Synscapes -> Cityscapes, both rounds (published: 69.0 mIoU; the original released only
# round-1 configs for this setting). Each batch element is a uniform draw over the two sources' concatenation.
_base_ = ['../_base_/ddb/ddb_dlv2_r101.py']
stages = dict(
    teacher_data=dict(type='UDADataset', source=[{{_base_.gta}}, {{_base_.synscapes}}],
                      target={{_base_.cityscapes}}),
    student_data=dict(type='UDADataset', source=[{{_base_.gta_pmd}}, {{_base_.synscapes_pmd}}],
                      target={{_base_.cityscapes}}),
    prototype_data=[{{_base_.cityscapes}}])
eval_targets = dict(_delete_=True, cityscapes={{_base_.eval_targets.cityscapes}})
