# Model merging, per-target model GTA -> Cityscapes (MiT-B5): the final HRDA (configs/hrda/gtaHR2csHR_hrda_mitb5.py)
# trained with seed 1 and deterministic algorithms, as the model-merging work trains the models it merges.
_base_ = ['../hrda/gtaHR2csHR_hrda_mitb5.py']
randomness = dict(seed=1, deterministic=True)
