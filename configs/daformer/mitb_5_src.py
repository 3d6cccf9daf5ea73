# The user's fork: source-only DAFormer (MiT-B5 + sep-ASPP head) on GTA, validated on Cityscapes; the same
# experiment as gta2cs_source_only_daformer_mitb5.py. Needs pretrained/mit_b5.pth.
_base_ = ['./gta2cs_source_only_daformer_mitb5.py']
