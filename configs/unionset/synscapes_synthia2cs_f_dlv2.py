# Union-set adaptation, synscapes + synthia -> Cityscapes, setting 'f' (every source labels all 19 classes),
# DeepLab-v2 ResNet-101 from DeepLab_init.pth (ORIGINALS_2.md section 5):
#   python run_experiments.py configs/unionset/synscapes_synthia2cs_f_dlv2.py --work-dir work_dirs/synscapes_synthia2cs_f_dlv2
_base_ = ['../_base_/unionset/sources_synscapes_synthia.py']
stages = dict(setting='f')
