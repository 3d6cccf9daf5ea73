"""Tiny DACS models (MiT-B0 with one block per stage, narrow DAFormer / HRDA heads) and batches for the tests of
mixed precision, multi-process training and the speed options."""
import copy

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from daseg.engine.synthetic_batch import synthetic_batch
from daseg.models.uda import DACS
from hrda_models import SEGMENTOR as HRDA_SEGMENTOR

HRDA_ONLY = ('scales', 'hr_crop_size', 'crop_coord_divisible', 'feature_scale', 'hr_slide_inference')
HRDA_HEAD_ONLY = ('single_scale_head', 'attention_classwise', 'attention_embed_dim', 'hr_loss_weight')


def segmentor_cfg(hrda=False, size=(32, 32), **backbone):
    """A tiny segmentor config: HRDA's test segmentor, or the same as a plain DAFormer EncoderDecoder."""
    cfg = copy.deepcopy(HRDA_SEGMENTOR)
    cfg['data_preprocessor']['size'] = size
    cfg['backbone'].update(backbone)
    if not hrda:
        cfg['type'] = 'EncoderDecoder'
        for key in HRDA_ONLY:
            cfg.pop(key)
        cfg['decode_head']['type'] = 'DAFormerHead'
        for key in HRDA_HEAD_ONLY:
            cfg['decode_head'].pop(key)
    else:
        cfg['hr_crop_size'] = [size[0] // 2, size[1] // 2]
    return ConfigDict(cfg)


def build_dacs(hrda=False, size=(32, 32), seed=0, backbone=None, **dacs):
    """A tiny DACS (feature distance on: the backbone names a weights file that is never loaded)."""
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    options = dict(imnet_feature_dist_lambda=0.005, pseudo_threshold=0.1)
    options.update(dacs)
    model = DACS(model=segmentor_cfg(hrda, size, pretrained='unused.pth', **(backbone or {})), **options)
    return model.train()


def batch(size=(32, 32), batch_size=2, seed=0):
    return synthetic_batch(batch_size, size, num_classes=19, uda=True, seed=seed)


def step(model, optim_wrapper, data, iteration):
    """One DACS training iteration as the runner runs it."""
    MessageHub.get_current_instance().update_info('iter', iteration)
    return model.train_step(data, optim_wrapper)


def sgd(model, lr=0.01):
    return OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr))
