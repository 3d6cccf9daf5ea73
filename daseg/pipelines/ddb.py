"""DDB (dual-path domain bridging and cross-path distillation, ORIGINALS_2.md section 4) as one pipeline of stages.

    r1_teacher_cu   self-training on the coarse region path (cross-domain CutMix), then its prototypes
    r1_teacher_ca   self-training on the fine class path (ClassMix), then its prototypes
    r1_student      the cross-path distillation student (CKD) of both teachers, from ImageNet weights
    r2_teacher_cu   round 2: the teachers again, initialised from the round-1 student at the round-2 rate
    r2_teacher_ca
    r2_student      a new student (again from ImageNet weights) of the round-2 teachers
    eval            every teacher and student on every target (the multi-target table of test.sh)

A teacher's prototypes are written next to its checkpoint (``prototypes.pth``, with their provenance), so nobody
renames checkpoints or parses paths from config names. A config holds the student segmentor as ``model`` (so
``test.sh CONFIG CHECKPOINT`` evaluates any stage's checkpoint), the schedule and runtime that every training
stage shares, ``eval_targets`` and ``stages = dict(type='DDBStages', ...)`` (:class:`DDBStages`). The training
stages run in every process under ``tools/dist_train.sh``; the prototypes and the evaluation in the main one.
"""
import copy
import os
import os.path as osp

import torch
from mmengine.config import Config

from ..cli import segmentor_config
from ..errors import UserError
from ..engine.schedule_length import set_max_iters
from ..evaluation.command import evaluate_checkpoints
from ..evaluation.report import format_console, write_reports
from .prototypes import compute_prototypes
from .registry import PIPELINES
from .runner import Stage
from .training import shared_runtime, train_in

# The bridged paths: DDB's names (checkpoint prefixes cu_model / ca_model) and their mixing components.
PATHS = {'cu': 'CutMixSelfTraining', 'ca': 'ClassMixSelfTraining'}
PATH_NAMES = {'cu': 'region path (CutMix)', 'ca': 'class path (ClassMix)'}
PROTOTYPE_FILE = 'prototypes.pth'
_PROTOTYPE_OPTIONS = ('epochs', 'min_pixels', 'cap', 'batch_size', 'workers')
_ITERS = ('teacher', 'student')


def _checked(options, allowed, name):
    unknown = sorted(set(options or {}) - set(allowed))
    if unknown:
        raise UserError(f'stages.{name}: unknown option(s) {", ".join(unknown)}; expected some of '
                        f'{", ".join(allowed)}')
    return dict(options or {})


@PIPELINES.register_module()
class DDBStages:
    """The stages of a DDB experiment.

    Args:
        teacher_data (dict): the teachers' training data, a ``UDADataset`` config over the source(s) and target(s)
            (lists for several, see ``UDADataset``).
        student_data (dict): the student's (DDB: the same with photometric distortion in the source pipeline).
        prototype_data (Sequence[dict]): the target training sets with their training pipeline (random crop,
            flip), on which the prototypes are computed.
        rounds (int): 1 or 2.
        teacher (dict): the EMA teacher of each path: ``EMATeacher`` options (DDB: alpha 0.99, threshold 0.968).
        mixing (dict): options of both paths' mixing components (colour jitter, blur, ...).
        student (dict): ``CrossPathDistillation`` options (prototype rectification, soft distillation, ...).
        prototypes (dict): ``epochs`` (4), ``min_pixels`` (10), ``cap`` (3000), ``batch_size`` (4), ``workers``.
        round2_lr (float): the round-2 teachers' learning rate (DDB: 6e-6, a tenth of round 1's).
        iters (dict | None): training length of ``'teacher'`` and ``'student'`` stages (default: the config's
            ``train_cfg.max_iters``), the schedule and intervals scaled with it.
        init (str | None): a segmentor checkpoint that the round-1 teachers and every student start from instead
            of the backbone's pretrained weights (the CPU demo, which has no ImageNet weights: its source-only
            model).
    """

    def __init__(self, teacher_data, student_data, prototype_data, rounds=2, teacher=None, mixing=None,
                 student=None, prototypes=None, round2_lr=6e-6, iters=None, init=None):
        if rounds not in (1, 2):
            raise UserError(f'stages.rounds must be 1 or 2, got {rounds!r}')
        if not prototype_data:
            raise UserError('stages.prototype_data must list the target training set(s) for the prototypes')
        self.teacher_data, self.student_data = teacher_data, student_data
        self.prototype_data = [prototype_data] if isinstance(prototype_data, dict) else list(prototype_data)
        self.rounds, self.round2_lr = rounds, round2_lr
        self.teacher = dict(dict(alpha=0.99, pseudo_threshold=0.968), **(teacher or {}))
        self.mixing, self.student = dict(mixing or {}), dict(student or {})
        self.prototypes = dict(dict(epochs=4, min_pixels=10, cap=3000, batch_size=4, workers=2),
                               **_checked(prototypes, _PROTOTYPE_OPTIONS, 'prototypes'))
        self.iters = _checked(iters, _ITERS, 'iters')
        if init is not None and not osp.isfile(init):
            raise UserError(f'stages.init: {init} does not exist')
        self.init = init

    # -- configs ------------------------------------------------------------------------------------------

    def teacher_model(self, segmentor, path):
        """The self-training wrapper of one bridged path."""
        return dict(type='UDAWrapper', model=copy.deepcopy(segmentor),
                    teachers=dict(ema_model=dict(type='EMATeacher', **self.teacher)),
                    components=[dict(type='SourceSupervision'), dict(type=PATHS[path], **self.mixing)])

    def student_model(self, segmentor, teachers):
        """The CKD wrapper over the two teachers' checkpoints and prototypes (``teachers``: path -> record)."""
        return dict(type='CKD', model=copy.deepcopy(segmentor), **self.student,
                    region_teacher=dict(checkpoint=teachers['cu']['checkpoint'],
                                        prototypes=teachers['cu']['prototypes']),
                    class_teacher=dict(checkpoint=teachers['ca']['checkpoint'],
                                       prototypes=teachers['ca']['prototypes']))

    def training_cfg(self, base, kind, model, dataset, load_from=None, lr=None):
        cfg = Config(copy.deepcopy(base))
        cfg.model, cfg.train_dataloader.dataset = model, copy.deepcopy(dataset)
        if kind in self.iters:
            set_max_iters(cfg, self.iters[kind])
        if load_from:
            cfg.load_from = load_from
        if lr is not None:
            cfg.optim_wrapper.optimizer.lr = lr
        return cfg

    # -- the stages ---------------------------------------------------------------------------------------

    def stages(self, cfg, select=False):
        """The list of :class:`Stage` for an experiment config (``model`` = the student segmentor).

        A stage's settings (its fingerprint, chained to the earlier stages') hold what decides its result: the
        segmentor, the seed, the schedule, the data and the method's options; not the logging."""
        if select:
            raise UserError('--select-on-target-val: DDB keeps each stage\'s last checkpoint, as the original')
        base, segmentor, schedule = shared_runtime(cfg)
        common = dict(segmentor=segmentor, randomness=base.get('randomness'), schedule=schedule)

        def teacher_stage(round_, path):
            def run(folder, records):
                init = records[f'r{round_ - 1}_student']['checkpoint'] if round_ > 1 else self.init
                model = self.teacher_model(segmentor, path)
                train = self.training_cfg(base, 'teacher', model, self.teacher_data, load_from=init,
                                          lr=self.round2_lr if round_ > 1 else None)
                checkpoint = train_in(folder, train)
                if int(os.environ.get('RANK', '0')) != 0:
                    return {}
                found = compute_prototypes(segmentor, checkpoint, self.prototype_data,
                                           osp.join(folder, PROTOTYPE_FILE), seed=cfg.get('randomness', {}).get(
                                               'seed') or 0, overwrite=True, **self.prototypes)
                return {'checkpoint': checkpoint, **found}
            settings = dict(common, round=round_, path=path, teacher=self.teacher, mixing=self.mixing,
                            data=self.teacher_data, iters=self.iters.get('teacher'), prototypes=self.prototypes,
                            prototype_data=self.prototype_data, lr=self.round2_lr if round_ > 1 else None,
                            init=self.init if round_ == 1 else 'round-1 student')
            return Stage(f'r{round_}_teacher_{path}', run, settings, processes='all')

        def student_stage(round_):
            def run(folder, records):
                teachers = {p: records[f'r{round_}_teacher_{p}'] for p in PATHS}
                train = self.training_cfg(base, 'student', self.student_model(segmentor, teachers),
                                          self.student_data, load_from=self.init)
                return {'checkpoint': train_in(folder, train)}
            settings = dict(common, round=round_, student=self.student, data=self.student_data,
                            iters=self.iters.get('student'), init=self.init)
            return Stage(f'r{round_}_student', run, settings, processes='all')

        stages = []
        for round_ in range(1, self.rounds + 1):
            stages += [teacher_stage(round_, path) for path in PATHS] + [student_stage(round_)]
        stages.append(Stage('eval', lambda folder, records: self._evaluate(folder, cfg, records),
                            dict(common, rounds=self.rounds, targets=cfg.get('eval_targets'))))
        return stages

    def _evaluate(self, folder, cfg, records):
        """Every teacher (its self-training run's student, the model CKD distils) and every student."""
        rows = []
        for round_ in range(1, self.rounds + 1):
            rows += [(f'round {round_} teacher, {PATH_NAMES[p]}', records[f'r{round_}_teacher_{p}']['checkpoint'])
                     for p in PATHS]
            rows.append((f'round {round_} student (CKD)', records[f'r{round_}_student']['checkpoint']))
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
        results = evaluate_checkpoints(cfg, segmentor_config(cfg), [path for _, path in rows], device, workers=1,
                                       config=cfg.filename)
        for entry, (label, _) in zip(results['checkpoints'], rows):
            entry['label'] = label
        results['which'] = 'last iteration of every stage; teachers: their self-training student'
        print(format_console(results))
        write_reports(results, folder)
        return {'results': osp.join(folder, 'results.json'),
                'mIoU': {e['label']: e['mean'].get('mIoU') for e in results['checkpoints']}}
