# Union-set adaptation, synscapes + gta + synthia -> Cityscapes, setting 'n' (non-overlapping label sets),
# DeepLab-v2 ResNet-101 from DeepLab_init.pth (ORIGINALS_2.md section 5):
#   python run_experiments.py configs/unionset/synscapes_gta_synthia2cs_n_dlv2.py --work-dir work_dirs/synscapes_gta_synthia2cs_n_dlv2
_base_ = ['../_base_/unionset/sources_synscapes_gta_synthia.py']
stages = dict(setting='n')
