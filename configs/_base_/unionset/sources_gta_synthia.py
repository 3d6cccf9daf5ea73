# Union-set sources: gta + synthia (each with its own label set, see the experiment's setting).
_base_ = ['./cityscapes_target.py']
stages = dict(sources=dict(
    gta={{_base_.unionset_sources.gta}},
    synthia={{_base_.unionset_sources.synthia}},
))
