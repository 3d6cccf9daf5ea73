"""Layer-wise learning-rate decay for ViT encoders inside a UDA wrapper: each parameter's learning rate and
weight decay against the closed form lr * lr_mult * rate ** (L + 1 - layer_id) (mmseg's scale), frozen
sub-models left out, and groups of equal settings merged."""
import pytest
from mmengine.optim import build_optim_wrapper
import torch
from torch import nn

import daseg.engine  # noqa: F401  (registers the constructor)
from daseg.errors import UserError

LR, WD, RATE, LAYERS = 6e-5, 0.01, 0.9, 3


class BEiT(nn.Module):
    """Parameter names of mmseg's BEiT (the constructor picks its rule by the class name)."""

    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.patch_embed = nn.Module()
        self.patch_embed.projection = nn.Conv2d(3, 4, 2)
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(LAYERS))


class Segmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = BEiT()
        self.decode_head = nn.Conv2d(4, 2, 1)


class Wrapper(nn.Module):
    """A UDA wrapper's layout: the student under ``model``, a frozen teacher beside it."""

    def __init__(self):
        super().__init__()
        self.model = Segmentor()
        self.ema_model = Segmentor().requires_grad_(False)


def build(paramwise):
    model = Wrapper()
    cfg = dict(constructor='LayerDecayOptimWrapperConstructor', optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
               paramwise_cfg=paramwise)
    return model, build_optim_wrapper(model, cfg)


def test_learning_rates_and_decay_follow_the_layer_ids():
    model, ow = build(dict(num_layers=LAYERS, decay_rate=RATE, custom_keys={'head': dict(lr_mult=10.0)}))
    settings = {}
    for group in ow.optimizer.param_groups:
        for p in group['params']:
            settings[id(p)] = (group['lr'], group['weight_decay'])
    by_name = {n: settings.get(id(p)) for n, p in model.named_parameters()}
    # Layer ids (mmseg): tokens and patch embedding 0, layer i -> i + 1, anything else L + 1 (scale 1).
    expected = {
        'model.backbone.cls_token': (LR * RATE ** 4, 0.0),
        'model.backbone.patch_embed.projection.weight': (LR * RATE ** 4, WD),
        'model.backbone.patch_embed.projection.bias': (LR * RATE ** 4, 0.0),
        'model.backbone.layers.0.weight': (LR * RATE ** 3, WD),
        'model.backbone.layers.2.weight': (LR * RATE ** 1, WD),
        'model.backbone.layers.2.bias': (LR * RATE ** 1, 0.0),
        'model.decode_head.weight': (LR * 10, WD),
        'model.decode_head.bias': (LR * 10, 0.0),
    }
    for name, (lr, wd) in expected.items():
        assert by_name[name] == (pytest.approx(lr), pytest.approx(wd)), name
    assert all(v is None for n, v in by_name.items() if n.startswith('ema_model.'))
    # 11 trainable tensors, 10 distinct settings (five layer ids, with and without decay): groups merged.
    assert len(ow.optimizer.param_groups) == len(set(settings.values())) == 10


def test_missing_settings_and_unknown_backbones_are_refused():
    with pytest.raises(UserError, match="needs 'decay_rate'"):
        build(dict(num_layers=LAYERS))
    model = Wrapper()
    model.model.backbone.__class__ = type('SwinTransformer', (BEiT,), {})
    cfg = dict(constructor='LayerDecayOptimWrapperConstructor', optimizer=dict(type='AdamW', lr=LR),
               paramwise_cfg=dict(num_layers=LAYERS, decay_rate=RATE))
    with pytest.raises(UserError, match='no layer rule for backbone SwinTransformer'):
        build_optim_wrapper(model, cfg)
