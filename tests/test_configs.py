"""Every experiment config loads, builds its model, and names datasets and transforms that exist."""
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

from daseg.cli import load_config

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)


def _datasets(cfg):
    train = cfg.train_dataloader.dataset
    yield from (train.source, train.target) if train.type == 'UDADataset' else (train,)
    if cfg.get('val_dataloader'):
        yield cfg.val_dataloader.dataset
    yield from cfg.get('eval_targets', {}).values()


@pytest.mark.parametrize('path', EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_is_consistent(path):
    init_default_scope('mmseg')
    cfg = load_config(str(path))
    for dataset in _datasets(cfg):
        assert DATASETS.get(dataset['type']) is not None, dataset['type']
        for step in dataset['pipeline']:
            assert TRANSFORMS.get(step['type']) is not None, step['type']
    model = MODELS.build(cfg.model)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    segmentor = cfg.model.get('model', cfg.model)
    if segmentor.backbone.get('arch') == 'b5' and segmentor.decode_head.type == 'DAFormerHead':
        copies = 3 if cfg.model.get('imnet_feature_dist_lambda') else 2 if cfg.model.type == 'DACS' else 1
        # MRM's Rebuilder for MiT-B5 + DAFormer head: 14,545,280 parameters (computed in test_mrm.py).
        mrm = 14.545280 * any(c['type'] == 'MaskedRepresentationModeling' for c in cfg.model.get('components', []))
        # the size DAFormer reports for MiT-B5 + its head
        assert millions - mrm == pytest.approx(85.2 * copies, abs=0.05 * copies)
