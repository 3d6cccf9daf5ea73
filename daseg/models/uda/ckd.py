"""DDB's cross-path knowledge distillation (CKD, reference/ORIGINALS_2.md section 4.3) as a UDA wrapper.

The student (``stu_model``, DDB's name) starts from ImageNet weights (the config's pretrained backbone) and learns
from two frozen teachers of its architecture: ``cu_model``, the region-path (cut-mix bridging) ST model, and
``ca_model``, the class-path (class-mix) one. Checkpoints therefore hold DDB's keys ``stu_model.*``, ``cu_model.*``,
``ca_model.*``, plus the teachers' prototypes under ``ckd.*``; every reader of checkpoints (test.sh, merge.py,
``load_from``) takes ``stu_model.*`` as the student (see :mod:`daseg.weights.submodels`)::

    model = dict(type='CKD', model=...,  # the student, e.g. _base_/models/deeplabv2red_r101v1c_adapter.py
                 region_teacher=dict(checkpoint='work_dirs/st_cu/iter_40000.pth', prototypes='st_cu/prototypes.pth'),
                 class_teacher=dict(checkpoint='work_dirs/st_ca/iter_40000.pth', prototypes='st_ca/prototypes.pth'),
                 proto_rectify=True, soft_distill=False)  # any option of CrossPathDistillation

A teacher's weights are the student (``model.*``) of its ST checkpoint, read strictly when the model's weights are
initialised (``init_weights``, which the runner calls before ``load_from`` / ``--resume``), or come from a loaded
CKD checkpoint (resume, test: no file needed). Training refuses to start with a teacher that has neither.
"""
import inspect
import os.path as osp

from mmseg.registry import MODELS

from ...errors import UserError
from ...weights import load_segmentor_weights
from .components.distillation import CrossPathDistillation
from .teachers import FrozenTeacher
from .wrapper import UDAWrapper

# CKD's options for its teachers -> their attribute (DDB's names).
TEACHERS = {'region_teacher': 'cu_model', 'class_teacher': 'ca_model'}
_TEACHER_KEYS = ('checkpoint', 'prototypes')


@MODELS.register_module()
class CheckpointTeacher(FrozenTeacher):
    """A frozen teacher in eval mode (BatchNorm on its running statistics) whose weights are the student of a
    training checkpoint, or those of a loaded checkpoint that holds the teacher; it refuses to teach without either.

    Args:
        checkpoint (str | None): a training checkpoint (its ``model.*``; ``ema_model.*`` and ``imnet_model.*``
            are not read) or a plain segmentor; None: the weights must come from a loaded checkpoint.
        option (str): the config option that names the file, for the messages.
    """

    def __init__(self, checkpoint=None, option: str = 'checkpoint'):
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise UserError(f'{option}: checkpoint not found: {checkpoint}')
        self.checkpoint, self.option = checkpoint, option
        self.loaded = False

    def load(self, teacher) -> None:
        """Read the checkpoint's student into ``teacher``, strictly (nothing without a checkpoint)."""
        if self.checkpoint is None:
            return
        try:
            load_segmentor_weights(teacher, self.checkpoint, 'student')
        except UserError as exc:
            raise UserError(f'{self.option}: {exc}') from None
        self.loaded = True

    def update(self, teacher, student, iteration: int) -> None:
        """Refuse random weights; eval mode every iteration (as DDB)."""
        if not self.loaded:
            raise UserError(f'{self.option.rsplit(".", 1)[0]} has no weights: give {self.option} (a '
                            'self-training checkpoint) or load a checkpoint that holds the teacher (load_from, '
                            '--resume)')
        teacher.eval()


@MODELS.register_module()
class CKD(UDAWrapper):
    """DDB's CKD student: ``SourceSupervision`` on the source, then ``CrossPathDistillation`` from the frozen
    ``cu_model`` and ``ca_model`` on the target (see the module docstring).

    Args:
        model (dict): the student's segmentor config; its head must give features (``DLV2AdapterHead``) for the
            prototype weights.
        region_teacher (dict | None): ``dict(checkpoint=..., prototypes=...)`` of the region-path teacher
            (``cu_model``); either may be None (then from a loaded CKD checkpoint).
        class_teacher (dict | None): the same for the class-path teacher (``ca_model``).
        components (list[dict]): further components, run after these two.
        init_cfg (dict, optional): mmengine init config.
        pretrained, train_cfg: None only, see :class:`UDAWrapper`.
        **distillation: options of :class:`~daseg.models.uda.components.CrossPathDistillation` (``proto_rectify``,
            ``renormalise``, ``pl_weight``, ``soft_distill``, ...); its teachers and prototype files are the above.
    """

    student_attr = 'stu_model'

    def __init__(self, model: dict, region_teacher: dict = None, class_teacher: dict = None, components=(),
                 init_cfg=None, pretrained=None, train_cfg=None, **distillation):
        given = dict(region_teacher=dict(region_teacher or {}), class_teacher=dict(class_teacher or {}))
        for option, cfg in given.items():
            unknown = sorted(set(cfg) - set(_TEACHER_KEYS))
            if unknown:
                raise UserError(f'CKD {option}: unknown key {", ".join(unknown)} (expected '
                                f'{", ".join(_TEACHER_KEYS)})')
        options = set(inspect.signature(CrossPathDistillation).parameters) - {'teachers', 'prototypes'}
        unknown = sorted(set(distillation) - options)
        if unknown:
            raise UserError(f'CKD: unknown option {", ".join(unknown)} (the teachers and their prototypes are '
                            'region_teacher and class_teacher; distillation options: '
                            f'{", ".join(sorted(options))})')
        teachers = {attr: dict(type='CheckpointTeacher', checkpoint=given[option].get('checkpoint'),
                               option=f'{option}.checkpoint') for option, attr in TEACHERS.items()}
        parts = [dict(type='SourceSupervision'),
                 dict(type='CrossPathDistillation', teachers=tuple(TEACHERS.values()),
                      prototypes={attr: given[option].get('prototypes') for option, attr in TEACHERS.items()},
                      **distillation)]
        super().__init__(model, teachers=teachers, components=parts + list(components), init_cfg=init_cfg,
                         pretrained=pretrained, train_cfg=train_cfg)

    def init_weights(self):
        """The student's (and every module's) initialisation, then the teachers' checkpoints."""
        super().init_weights()
        for name, policy in self.teachers.items():
            policy.load(getattr(self, name))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix:
            return
        # A state dict that holds all of a teacher's weights (a CKD checkpoint) provides that teacher.
        for name, policy in self.teachers.items():
            keys = [k for k in getattr(self, name).state_dict() if not k.endswith('num_batches_tracked')]
            if all(f'{name}.{k}' in state_dict for k in keys):
                policy.loaded = True
