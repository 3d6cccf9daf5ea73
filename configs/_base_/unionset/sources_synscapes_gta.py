# Union-set sources: synscapes + gta (each with its own label set, see the experiment's setting).
_base_ = ['./cityscapes_target.py']
stages = dict(sources=dict(
    synscapes={{_base_.unionset_sources.synscapes}},
    gta={{_base_.unionset_sources.gta}},
))
