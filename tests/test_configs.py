"""Every experiment config loads, builds its model, names datasets and transforms that exist, and has what
mmseg's tools and APIs read (test pipeline and loop, the validation trio)."""
import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.apis import MMSegInferencer
from mmseg.apis.utils import _preprare_data
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

from daseg.cli import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts)
# Multi-stage methods (a `stages` entry, run by run_experiments.py stage by stage): union-set adaptation and DDB.
STAGED = [p for p in CONFIGS if 'unionset' in p.parts or p.name.startswith('unionset_')]
DDB = [p for p in CONFIGS if 'ddb' in p.parts or p.name.startswith('ddb_')]
EXPERIMENTS = [p for p in CONFIGS if p not in STAGED + DDB]
# The dataset bases that define data loaders (eval_targets_*.py only hold test.sh's eval_targets).
DATASET_BASES = sorted(p for p in (ROOT / 'configs/_base_/datasets').glob('*.py')
                       if not p.name.startswith('eval_targets'))
# A small BGR image, as mmcv loads one.
IMAGE = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)


def check_mmseg_api(cfg, runner=True):
    """Fail unless ``cfg`` has what mmseg reads: ``test_pipeline`` (``inference_model``), ``test_dataloader`` with
    a pipeline ``MMSegInferencer`` accepts, ``test_evaluator`` and, with ``runner``, ``test_cfg``, and the
    validation keys all or none (mmengine's Runner). Both pipelines are run on an image by mmseg's own code."""
    assert cfg.get('test_pipeline'), 'no test_pipeline (mmseg.apis.inference_model reads it)'
    keys = ['test_dataloader', 'test_evaluator'] + ['test_cfg'] * runner
    assert all(cfg.get(k) for k in keys), f'missing one of {keys}'
    if runner:
        val = [bool(cfg.get(k)) for k in ('val_dataloader', 'val_evaluator', 'val_cfg')]
        assert len(set(val)) == 1, f'val_dataloader, val_evaluator, val_cfg: all or none, got {val}'
    init_default_scope('mmseg')
    # mmseg edits the pipelines it reads (in place): a copy of each
    cfg = Config(dict(test_pipeline=copy.deepcopy(cfg.test_pipeline),
                      test_dataloader=dict(dataset=dict(pipeline=copy.deepcopy(cfg.test_dataloader.dataset.pipeline)))))
    data, _ = _preprare_data(IMAGE, SimpleNamespace(cfg=cfg))
    assert data['inputs'][0].shape[0] == 3 and data['data_samples'][0].ori_shape == IMAGE.shape[:2]
    inferencer = MMSegInferencer.__new__(MMSegInferencer)  # only its pipeline: no model
    packed = inferencer._init_pipeline(cfg)(IMAGE)
    assert packed['data_samples'].ori_shape == IMAGE.shape[:2]


def test_check_mmseg_api_refuses_what_mmseg_cannot_read():
    good = dict(test_pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                               dict(type='PackSegInputs')], test_evaluator=dict(type='IoUMetric'))
    good['test_dataloader'] = dict(dataset=dict(pipeline=good['test_pipeline']))
    check_mmseg_api(Config(good), runner=False)
    for broken, message in ((dict(good, test_pipeline=None), 'no test_pipeline'),
                            (dict(good, test_evaluator=None), 'missing one of')):
        with pytest.raises(AssertionError, match=message):
            check_mmseg_api(Config(broken), runner=False)
    # Our file-naming loaders are not mmseg's names: inference_model keeps the label loader, MMSegInferencer
    # finds no LoadImageFromFile.
    checked = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
    with pytest.raises(KeyError, match='seg_map_path'):
        check_mmseg_api(Config(dict(good, test_pipeline=checked)), runner=False)
    with pytest.raises(ValueError, match='LoadImageFromFile is not found'):
        check_mmseg_api(Config(dict(good, test_dataloader=dict(dataset=dict(pipeline=checked)))), runner=False)


@pytest.mark.parametrize('path', DATASET_BASES, ids=lambda p: p.name)
def test_dataset_base_has_what_mmseg_reads(path):
    check_mmseg_api(Config.fromfile(str(path)), runner=False)


def _flat(datasets):
    """The datasets in a dataset config, a list of them (several domains) or a ConcatDataset, flattened."""
    if isinstance(datasets, list):
        for dataset in datasets:
            yield from _flat(dataset)
    else:
        yield from _flat(datasets.datasets) if datasets.type == 'ConcatDataset' else (datasets,)


def _datasets(cfg):
    train = cfg.train_dataloader.dataset
    yield from _flat([train.source, train.target] if train.type == 'UDADataset' else train)
    for loader in ('val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            yield cfg[loader].dataset
    yield from cfg.get('eval_targets', {}).values()


@pytest.mark.parametrize('path', EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_config_is_consistent(path, no_random_init):
    init_default_scope('mmseg')
    cfg = load_config(str(path))
    check_mmseg_api(cfg)
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


@pytest.mark.parametrize('path', STAGED, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_staged_config_is_consistent(path, no_random_init):
    """Its stages, datasets and transforms exist, and a source model of it builds (of the label set's size)."""
    from daseg.pipelines import build_stages
    init_default_scope('mmseg')
    cfg = load_config(str(path))
    names = [stage.name for stage in build_stages(cfg)]
    sources = list(cfg.stages.sources)
    assert names == [f'stage0_{s}' for s in sources] + ['pl1', 'stage1', 'pl2', 'stage2', 'eval']
    datasets = [*cfg.stages.sources.values(), cfg.stages.target_images, cfg.stages.target_val,
                *cfg.eval_targets.values()]
    for dataset in datasets:
        assert DATASETS.get(dataset['type']) is not None, dataset['type']
        for step in dataset['pipeline'] + cfg.stages.target_train_pipeline:
            assert TRANSFORMS.get(step['type']) is not None, step['type']
    model = MODELS.build(dict(cfg.model, type='UnionSetSources', setting=cfg.stages.setting, sources=sources,
                              held=sources[:1]))
    assert model.num_classes == 19 and model.decode_head.num_classes == model.label_sets[sources[0]].num_local


@pytest.mark.parametrize('path', DDB, ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_ddb_config_is_consistent(path, no_random_init):
    """Its stages, datasets and transforms exist, mmseg's tools can read it (its model is the student
    segmentor), and both paths' self-training wrappers build."""
    from daseg.pipelines import build_stages
    init_default_scope('mmseg')
    cfg = load_config(str(path))
    check_mmseg_api(cfg, runner=False)
    rounds = cfg.stages.rounds
    names = [stage.name for stage in build_stages(cfg)]
    assert names == [f'r{r}_{s}' for r in range(1, rounds + 1)
                     for s in ('teacher_cu', 'teacher_ca', 'student')] + ['eval']
    data = [cfg.stages.teacher_data, cfg.stages.student_data]
    datasets = list(_flat([side for u in data for side in (u.source, u.target)]))
    for dataset in datasets + list(cfg.stages.prototype_data) + list(cfg.eval_targets.values()):
        assert DATASETS.get(dataset['type']) is not None, dataset['type']
        for step in dataset['pipeline']:
            assert TRANSFORMS.get(step['type']) is not None, step['type']
    from daseg.pipelines.ddb import PATHS, DDBStages
    stages = DDBStages(**{k: v for k, v in cfg.stages.items() if k != 'type'})
    for path_name in PATHS:
        uda = MODELS.build(stages.teacher_model(cfg.model, path_name))
        assert [c.name for c in uda.components] == ['src', 'mix']
    assert 'forward_with_features' in dir(MODELS.build(cfg.model).decode_head)
