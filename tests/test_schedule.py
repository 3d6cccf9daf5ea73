"""The optimiser recipe of configs/_base_/schedules against the original's closed form."""
import math
from pathlib import Path

import pytest
import daseg.engine.schedulers  # noqa: F401  (registers PolyWarmupLR)
import torch
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS
from torch import nn

CFG = Path(__file__).resolve().parents[1] / 'configs/_base_/schedules/adamw_poly10warm_40k.py'


class Tiny(nn.Module):
    """Parameter names shaped like mmseg's MiT + a decode head."""

    def __init__(self):
        super().__init__()
        stage = nn.ModuleList([nn.Conv2d(3, 4, 1), nn.ModuleList([nn.Linear(4, 4)]), nn.LayerNorm(4)])
        self.backbone = nn.Module()
        self.backbone.layers = nn.ModuleList([stage])
        self.backbone.layers[0][1][0].norm1 = nn.LayerNorm(4)
        self.decode_head = nn.Module()
        self.decode_head.conv_seg = nn.Conv2d(4, 19, 1)


def groups_by_param(optim_wrapper, model):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g for g in optim_wrapper.optimizer.param_groups for p in g['params']}


def test_head_lr_and_norm_decay():
    cfg = Config.fromfile(str(CFG))
    model = Tiny()
    groups = groups_by_param(build_optim_wrapper(model, cfg.optim_wrapper), model)
    assert groups['decode_head.conv_seg.weight']['lr'] == pytest.approx(6e-4)
    assert groups['decode_head.conv_seg.weight']['weight_decay'] == pytest.approx(0.01)
    assert groups['backbone.layers.0.0.weight']['lr'] == pytest.approx(6e-5)
    assert groups['backbone.layers.0.0.weight']['weight_decay'] == pytest.approx(0.01)
    # The stage-final LayerNorm (original `norm1`) and the block norms carry no weight decay.
    assert groups['backbone.layers.0.2.weight']['weight_decay'] == 0.0
    assert groups['backbone.layers.0.1.0.norm1.bias']['weight_decay'] == 0.0


CHECKED = [0, 1, 750, 1499, 1500, 1501, 20000, 39999]


@pytest.fixture(scope='module')
def backbone_lr():
    """The backbone's learning rate at each iteration of CHECKED, from one run of the schedule."""
    cfg = Config.fromfile(str(CFG))
    model = Tiny()
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=ow)) for s in cfg.param_scheduler]
    lrs = {}
    for it in range(max(CHECKED) + 1):
        if it in CHECKED:
            lrs[it] = groups_by_param(ow, model)['backbone.layers.0.0.weight']['lr']
        # No optimiser step: the schedulers only rewrite the groups' lr, and 40,000 AdamW steps would take
        # most of this test's time.
        for s in scheds:
            s.step()
    return lrs


@pytest.mark.parametrize("it", CHECKED)
def test_poly_with_linear_warmup(it, backbone_lr):
    base = 6e-5
    # mmcv 1.x: regular poly lr times the linear warm-up factor 1 - (1 - i/1500)(1 - 1e-6).
    poly = base * (1 - it / 40000)
    warm = 1 - (1 - it / 1500) * (1 - 1e-6) if it < 1500 else 1.0
    assert math.isclose(backbone_lr[it], poly * warm, rel_tol=1e-6, abs_tol=1e-15)
