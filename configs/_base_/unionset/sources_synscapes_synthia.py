# Union-set sources: synscapes + synthia (each with its own label set, see the experiment's setting).
_base_ = ['./cityscapes_target.py']
stages = dict(sources=dict(
    synscapes={{_base_.unionset_sources.synscapes}},
    synthia={{_base_.unionset_sources.synthia}},
))
