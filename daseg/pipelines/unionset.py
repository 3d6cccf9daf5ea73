"""Union-set multi-source model adaptation (ORIGINALS_2.md section 5) as one pipeline of stages.

    stage0_<source>  each source model on its own labelled data and label set        (the only stages that read
                                                                                       source data)
    pl1              the source models' averaged lifted softmax -> thresholded target pseudo-labels
    stage1           the source models adapted together on them                      (UnionSetStage1)
    pl2              the stage-1 models' ensembles -> new pseudo-labels
    stage2           the final backbone with the source heads                        (UnionSetStage2)
    eval             every source model, their average, stage 1 and the final model on the target's val set

A config holds one branch's ``model`` (backbone, decode head, preprocessor), the schedule and runtime that every
training stage shares, ``eval_targets``, and ``stages = dict(type='UnionSetStages', ...)`` (:class:`UnionSetStages`).
After stage 0 nothing opens a source file: the adaptation stages' configs hold no source dataset. Each stage keeps
its last checkpoint; ``--select-on-target-val`` validates every checkpoint interval on the target's labelled val
set and keeps the best, as the original does, and the results say so.
"""
import copy
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from ..classes import CLASSES
from ..errors import UserError
from ..engine.schedule_length import set_max_iters
from ..evaluation.command import build_model, evaluate_checkpoints
from ..evaluation.report import format_console, write_reports
from ..models.unionset import VOID_MODES, label_sets
from ..weights import load_segmentor_weights, save_checkpoint_atomic
from .pseudo_labels import PSEUDO_LABEL_SUFFIX, write_pseudo_labels
from .registry import PIPELINES
from .runner import Stage
from .training import shared_runtime, train_in

TARGET_VAL_NOTE = 'selected on the target val labels (--select-on-target-val)'
_TRAINING_STAGES = ('stage0', 'stage1', 'stage2')


def _device():
    return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


@PIPELINES.register_module()
class UnionSetStages:
    """The stages of a union-set experiment.

    Args:
        setting (str): label setting ``'f'``, ``'p'`` or ``'n'``.
        sources (dict[str, dict]): source name (``'synscapes'``, ``'gta'``, ``'synthia'``) -> its labelled
            training dataset (19-class trainIds; mapped to the source's label set by the model). Read by stage 0
            only.
        target_images (dict): the target's training images with a pipeline that loads and resizes the image
            (pseudo-labelling).
        target_train_pipeline (list[dict]): the pipeline of stages 1 and 2 over those images with their
            pseudo-labels (it must load annotations).
        target_val (dict): the target's labelled val set (model selection on target labels only when asked).
        iters (dict[str, int] | None): training length of ``'stage0'``, ``'stage1'``, ``'stage2'`` (default: the
            config's ``train_cfg.max_iters``), the schedule and intervals scaled with it.
        void (str): stage 0's void source pixels: ``'other'`` (the original) or ``'ignore'``.
        cap (float): upper bound of the class-wise pseudo-label thresholds.
        source_checkpoints (dict[str, str] | None): source -> an existing model of it (e.g. the original's
            ``{source}_{iter}.pth``); stage 0 is then not run for that source.
    """

    def __init__(self, setting, sources, target_images, target_train_pipeline, target_val, iters=None,
                 void='other', cap=0.9, source_checkpoints=None):
        if not isinstance(sources, dict) or len(sources) < 2:
            raise UserError('stages.sources must map two or more source names to their datasets')
        unknown = sorted(set(iters or {}) - set(_TRAINING_STAGES))
        if unknown:
            raise UserError(f'stages.iters: unknown stage {unknown}; the training stages are '
                            f'{", ".join(_TRAINING_STAGES)}')
        label_sets(setting, list(sources))  # an unknown setting or source stops here, before any work
        if void not in VOID_MODES:
            raise UserError(f'stages.void must be one of {", ".join(VOID_MODES)}, got {void!r}')
        given = dict(source_checkpoints or {})
        if set(given) - set(sources):
            raise UserError(f'stages.source_checkpoints names {sorted(set(given) - set(sources))}, which are not '
                            f'among the sources {list(sources)}')
        for source, path in given.items():
            if not osp.isfile(path):
                raise UserError(f'stages.source_checkpoints: the {source} model {path} does not exist')
        self.setting, self.sources, self.given = setting, dict(sources), given
        self.target_images, self.target_val = target_images, target_val
        self.target_train_pipeline = list(target_train_pipeline)
        self.iters, self.void, self.cap = dict(iters or {}), void, cap

    # -- configs ------------------------------------------------------------------------------------------

    def model_cfg(self, branch, kind, **kwargs):
        """A union-set model of ``kind`` (registered name) over ``branch`` (backbone, decode_head, ...)."""
        return dict(branch, type=kind, setting=self.setting, sources=list(self.sources), **kwargs)

    def training_cfg(self, base, stage, model, dataset, select):
        """One training stage's config: the shared runtime and schedule, its model and dataset."""
        cfg = Config(copy.deepcopy(base))
        cfg.model = model
        cfg.train_dataloader.dataset = dataset
        if stage in self.iters:
            set_max_iters(cfg, self.iters[stage])
        if select:
            interval = cfg.default_hooks.checkpoint.interval
            cfg.train_cfg.val_interval = interval
            cfg.val_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=False,
                                      sampler=dict(type='DefaultSampler', shuffle=False),
                                      dataset=copy.deepcopy(self.target_val))
            cfg.val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
            cfg.val_cfg = dict(type='ValLoop')
            cfg.default_hooks.checkpoint.save_best = 'mIoU'
            cfg.default_hooks.checkpoint.rule = 'greater'
        return cfg

    def pseudo_labelled(self, labels):
        """The target's training images with the pseudo-labels in folder ``labels``."""
        dataset = copy.deepcopy(self.target_images)
        prefix = dict(dataset.get('data_prefix') or {}, seg_map_path=osp.abspath(labels))
        return dict(dataset, data_prefix=prefix, seg_map_suffix=PSEUDO_LABEL_SUFFIX,
                    pipeline=copy.deepcopy(self.target_train_pipeline))

    # -- the stages ---------------------------------------------------------------------------------------

    def stages(self, cfg, select=False):
        """The list of :class:`Stage` for an experiment config (``model`` = one branch, the shared schedule).

        A stage's settings (its fingerprint, chained to the earlier stages') hold what decides its result: the
        label setting, the branch, the seed and model selection, and for a training stage its schedule, length
        and data; not the logging."""
        base, branch, schedule = shared_runtime(cfg)
        common = dict(setting=self.setting, sources=list(self.sources), branch=branch, select=select,
                      randomness=base.get('randomness'))

        def training(stage, **extra):
            return dict(common, stage=stage, schedule=schedule, iters=self.iters.get(stage), **extra)

        def source_models(records):
            return {s: self.given.get(s) or records[f'stage0_{s}']['selected'] for s in self.sources}

        def stage0(source):
            model = self.model_cfg(branch, 'UnionSetSources', held=[source], void=self.void)
            return self._trainer(self.training_cfg(base, 'stage0', model, self.sources[source], select), select)

        def stage1(folder, records):
            model = self.model_cfg(branch, 'UnionSetStage1', init_from=source_models(records))
            dataset = self.pseudo_labelled(records['pl1']['labels'])
            return self._trainer(self.training_cfg(base, 'stage1', model, dataset, select), select)(folder, records)

        def stage2(folder, records):
            model = self.model_cfg(branch, 'UnionSetStage2',
                                   init_from={s: records['stage1']['selected'] for s in self.sources})
            dataset = self.pseudo_labelled(records['pl2']['labels'])
            return self._trainer(self.training_cfg(base, 'stage2', model, dataset, select), select)(folder, records)

        stages = [Stage(f'stage0_{s}', stage0(s),
                        training('stage0', source=s, dataset=self.sources[s], void=self.void), processes='one')
                  for s in self.sources if s not in self.given]
        pseudo = dict(common, cap=self.cap, images=self.target_images)
        stages += [
            Stage('pl1', lambda folder, records: self._pseudo_labels_from_sources(
                folder, branch, source_models(records)), dict(pseudo, given=self.given)),
            Stage('stage1', stage1, training('stage1', pipeline=self.target_train_pipeline), processes='one'),
            Stage('pl2', lambda folder, records: self._pseudo_labels_from(
                folder, self.model_cfg(branch, 'UnionSetStage1'), records['stage1']['selected']), pseudo),
            Stage('stage2', stage2, training('stage2', pipeline=self.target_train_pipeline), processes='one'),
            Stage('eval', lambda folder, records: self._evaluate(folder, cfg, branch, source_models(records), records,
                                                                 select), dict(common, val=self.target_val)),
        ]
        return stages

    @staticmethod
    def _trainer(cfg, select):
        def run(folder, records):
            last = train_in(folder, cfg)
            best = sorted(p for p in os.listdir(folder) if p.startswith('best_mIoU_') and p.endswith('.pth'))
            if select and not best:
                raise UserError(f'{folder}: --select-on-target-val found no best_mIoU_*.pth (no validation ran)')
            selected = osp.join(folder, best[-1]) if select else last
            return {'last': last, 'selected': selected,
                    'selection': TARGET_VAL_NOTE if select else 'last iteration'}
        return run

    def _pseudo_labels_from_sources(self, folder, branch, checkpoints):
        """Stage-1 pseudo-labels: the source models, averaged; the joint model is kept as ``sources.pth``."""
        model = MODELS.build(self.model_cfg(branch, 'UnionSetSources'))
        for source, checkpoint in checkpoints.items():  # every weight from the files: no initialisation
            model.load_branch(source, checkpoint)
        path = osp.join(folder, 'sources.pth')
        save_checkpoint_atomic({'state_dict': model.state_dict(), 'meta': {'sources': checkpoints}}, path,
                               overwrite=True)
        return self._write(folder, model.to(_device()), {'checkpoint': path, 'from': checkpoints})

    def _pseudo_labels_from(self, folder, model_cfg, checkpoint):
        model = build_model(model_cfg, _device())
        load_segmentor_weights(model, checkpoint)
        return self._write(folder, model, {'checkpoint': checkpoint})

    def _write(self, folder, model, record):
        labels = osp.join(folder, 'labels')
        summary = write_pseudo_labels(model, self.target_images, labels, cap=self.cap, classes=CLASSES)
        return dict(record, labels=labels, images=summary['images'])

    def _evaluate(self, folder, cfg, branch, source_models, records, select):
        """Every source model (lifted to the 19 classes), their average, stage 1 and the final model."""
        rows = [(f'{s} source model', self.model_cfg(branch, 'UnionSetSources', held=[s]), path)
                for s, path in source_models.items()]
        rows += [('sources averaged (pl1)', self.model_cfg(branch, 'UnionSetSources'), records['pl1']['checkpoint']),
                 ('stage 1', self.model_cfg(branch, 'UnionSetStage1'), records['stage1']['selected']),
                 ('final (stage 2)', self.model_cfg(branch, 'UnionSetStage2'), records['stage2']['selected'])]
        results = None
        for label, model_cfg, checkpoint in rows:
            model_cfg = dict(model_cfg, test_cfg=dict(mode='whole'))
            part = evaluate_checkpoints(cfg, model_cfg, [checkpoint], _device(), workers=1, config=cfg.filename)
            part['checkpoints'][0]['label'] = label
            if results is None:
                results = part
            else:
                results['checkpoints'] += part['checkpoints']
        results['which'] = TARGET_VAL_NOTE if select else 'last iteration of every stage'
        print(format_console(results))
        write_reports(results, folder)
        return {'results': osp.join(folder, 'results.json'),
                'mIoU': {e['label']: e['mean'].get('mIoU') for e in results['checkpoints']}}
