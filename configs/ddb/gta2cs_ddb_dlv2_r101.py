# DDB, GTA -> Cityscapes, both rounds (published: 62.7 mIoU after round 2):
#     python run_experiments.py --config configs/ddb/gta2cs_ddb_dlv2_r101.py
_base_ = ['../_base_/ddb/ddb_dlv2_r101.py']
stages = dict(
    teacher_data=dict(type='UDADataset', source={{_base_.gta}}, target={{_base_.cityscapes}}),
    student_data=dict(type='UDADataset', source={{_base_.gta_pmd}}, target={{_base_.cityscapes}}),
    prototype_data=[{{_base_.cityscapes}}])
eval_targets = dict(_delete_=True, cityscapes={{_base_.eval_targets.cityscapes}})
