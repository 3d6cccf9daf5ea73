# DACS with an EMA teacher (alpha 0.999, pseudo-label threshold 0.968), ClassMix, colour jitter and blur (DACS's
# defaults: strength 0.2, probability 0.2, blur on), without the ImageNet feature distance and the pseudo-label
# crop: the fork's "daformer_*_uda" recipe, around the DAFormer MiT-B5 segmentor (experiments put their encoder
# in its place).
_base_ = ['../models/daformer_sepaspp_mitb5.py']
model = dict(_delete_=True, type='DACS', model={{_base_.model}}, alpha=0.999, pseudo_threshold=0.968)
