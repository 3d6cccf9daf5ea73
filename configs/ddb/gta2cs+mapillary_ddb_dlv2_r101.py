# DDB multi-target, GTA -> Cityscapes + Mapillary, both rounds (published: 60.4 / 56.9 mIoU; the original
# released only round-1 configs for this setting). Each target draw is uniform over the two targets'
# concatenation (about 14 % Cityscapes, 86 % Mapillary), the prototypes cover both, and every stage is evaluated
# on each target separately.
_base_ = ['../_base_/ddb/ddb_dlv2_r101.py']
stages = dict(
    teacher_data=dict(type='UDADataset', source={{_base_.gta}},
                      target=[{{_base_.cityscapes}}, {{_base_.mapillary}}]),
    student_data=dict(type='UDADataset', source={{_base_.gta_pmd}},
                      target=[{{_base_.cityscapes}}, {{_base_.mapillary}}]),
    prototype_data=[{{_base_.cityscapes}}, {{_base_.mapillary}}])
