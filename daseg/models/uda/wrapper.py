"""The UDA wrapper: a student, named teachers and an ordered list of components, one optimiser step per iteration.

One iteration (:meth:`UDAWrapper.train_step`):

1. the batches of both domains (and any extra batch the dataset adds, e.g. rare-class paste crops, see
   :func:`extra_batches`) are preprocessed and the iteration's randomness is seeded from (run seed, iteration), so
   a resumed run repeats what a straight run does;
2. every teacher is updated (an EMA teacher starts as a copy of the student at iteration 0), then every
   component's own ``update`` runs (e.g. MIC's own EMA teacher);
3. each component computes its losses inside the optimiser wrapper's context (autocast with mixed precision) and
   they are back-propagated at once, which frees that component's graph;
4. one optimiser step.

Components share the iteration's state through :class:`~daseg.models.uda.step.UDAStep`, e.g. a teacher's
pseudo-labels on the unmixed target, computed once. Sub-models keep their attribute names (``model``,
``ema_model``, ``imnet_model``, ``mic.teacher.ema_model``), so checkpoints carry the originals' prefixes; the
wrapper declares them in :meth:`UDAWrapper.sub_models` from the table in :mod:`daseg.weights.submodels`. Every part
reaches the student as ``uda.model``; a wrapper whose original saved it under another name sets
:attr:`UDAWrapper.student_attr` (DDB's CKD: ``stu_model``).

Speed. No step makes the host wait for the device: log variables stay tensors (the runner copies them in batches
and stops on a non-finite loss, see ``DeferredRuntimeInfoHook``), random draws come from a CPU generator and the
heads' accuracy needs no boolean indexing.
"""
import copy

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from ...errors import UserError
from ...weights import SUB_MODELS, canonical_key, check_fits, sub_model_of, sub_models
from ...weights.fit import COPIED_FROM_STUDENT
from ..segmentors.uda_encoder_decoder import stacked_labels
from ..utils.iteration_seed import current_iteration, seed_iteration
from .step import DomainBatch, UDAStep

# The keys of the two domains' images in a data-loader batch; any other ``<name>_inputs`` is an extra batch.
DOMAIN_INPUTS = ('inputs', 'target_inputs')


def extra_batches(data: dict) -> dict:
    """The batches a dataset adds to each item besides the source and the target: ``<name>_inputs`` with
    ``<name>_data_samples``, as ``name -> (inputs, data_samples)``.

    An item that carries a list of k samples of such a batch (the same k in every item, e.g. one crop per pasted
    class) is collated by mmengine's ``pseudo_collate`` into k lists of one sample per item; the wrapper then
    preprocesses k batches (``UDAStep.extra[name]`` a list). A batch without these keys gives ``{}``.
    """
    found = {}
    for key in data:
        if key.endswith('_inputs') and key not in DOMAIN_INPUTS:
            name = key[:-len('_inputs')]
            if f'{name}_data_samples' not in data:
                raise UserError(f"the data batch has '{key}' but no '{name}_data_samples'")
            found[name] = (data[key], data[f'{name}_data_samples'])
    return found


def _has_labels(samples) -> bool:
    return all('gt_sem_seg' in s for s in samples)


def _uda_segmentor_cfg(model: dict) -> dict:
    """The student config; a plain mmseg ``EncoderDecoder`` becomes a ``UDAEncoderDecoder`` (same modules and
    keys, plus the calls the components make)."""
    model = copy.deepcopy(model)
    if model.get('type') == 'EncoderDecoder':
        model['type'] = 'UDAEncoderDecoder'
    return model


@MODELS.register_module()
class UDAWrapper(BaseModel):
    """Self-training wrapper composed of teachers and components (see the module docstring).

    Args:
        model (dict): config of the student segmentor; its data preprocessor serves both domains.
        teachers (dict[str, dict]): attribute name -> teacher policy config (``EMATeacher``, ``FrozenTeacher``);
            each gets its own copy of the student's architecture under that name.
        components (list[dict]): component configs (registered types, e.g. ``SourceSupervision``,
            ``ClassMixSelfTraining``, ``MaskedConsistency``), run in this order.
        init_cfg (dict, optional): mmengine init config.
        pretrained, train_cfg: None only. ``mmseg.apis.init_model`` sets both to None on any model config; the
            student's own config (``model``) holds its backbone weights and training options.

    Attributes:
        student_attr (str): attribute that holds the student, i.e. its checkpoint prefix (a class attribute, an
            alias of the student in :data:`daseg.weights.SUB_MODELS` when not ``'model'``); ``model`` reads it.
    """

    student_attr = 'model'

    def __init__(self, model: dict, teachers: dict = None, components=(), init_cfg=None, pretrained=None,
                 train_cfg=None):
        if pretrained is not None or train_cfg is not None:
            raise UserError(f'{type(self).__name__}: set pretrained and train_cfg on the student '
                            '(model.model.backbone.pretrained, model.model.train_cfg), not on the UDA wrapper')
        super().__init__(data_preprocessor=copy.deepcopy(model.get('data_preprocessor')), init_cfg=init_cfg)
        # Batches reach the GPU with asynchronous copies (truly so from the data loader's pinned memory).
        self.data_preprocessor._non_blocking = True
        # Memory format of the images fed to the sub-models (torch.channels_last with the speed option).
        self.input_memory_format = torch.contiguous_format
        self._model_cfg = _uda_segmentor_cfg(model)
        self.add_module(self.student_attr, MODELS.build(copy.deepcopy(self._model_cfg)))
        self.teachers = {}
        for name, cfg in (teachers or {}).items():
            self.add_teacher(name, MODELS.build(copy.deepcopy(cfg)))
        self.components = []
        for cfg in components:
            component = MODELS.build(copy.deepcopy(cfg))
            if component.name in self._modules or any(c.name == component.name for c in self.components):
                raise UserError(f'two UDA components (or a component and a sub-model) are named {component.name!r}')
            self.add_module(component.name, component)
            self.components.append(component)
            component.setup(self)
        # The Runner seeds torch before building the model: every iteration's randomness derives from this
        # seed and the iteration.
        self._base_seed = torch.initial_seed()
        self._local_iter = 0
        # Set by a debug-picture hook for the iterations it draws: train_step then keeps its UDAStep.
        self.keep_step, self.last_step = False, None

    # -- parts -------------------------------------------------------------------------------------------

    @property
    def model(self):
        """The student segmentor (held under :attr:`student_attr`)."""
        try:
            return self._modules[self.student_attr]
        except KeyError:  # not built yet: an AttributeError, so that hasattr answers False
            raise AttributeError(f'{type(self).__name__} has no student yet') from None

    def build_segmentor(self):
        """A new segmentor of the student's architecture (for a teacher)."""
        return MODELS.build(copy.deepcopy(self._model_cfg))

    def add_teacher(self, name: str, policy, owner=None):
        """Give ``policy`` a segmentor of its own under ``owner.<name>`` (the wrapper when None)."""
        owner = self if owner is None else owner
        teacher = self.build_segmentor()
        policy.prepare(teacher)
        owner.add_module(name, teacher)
        if owner is self:
            self.teachers[name] = policy
        return teacher

    def sub_models(self):
        """The segmentors this wrapper holds, as ``[(SubModel, module), ...]`` in the order of the table."""
        found = []
        for sub in SUB_MODELS:
            try:
                found.append((sub, self.get_submodule(sub.attr)))
            except AttributeError:
                continue
        return found

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # mmseg's init_model and MMSegInferencer load with mmengine's load_checkpoint, which only warns about
        # missing keys: a plain segmentor checkpoint is the student's weights (and the start of the teachers
        # that copy it), and must fit. The runner's load_from hands over prefixed keys (see daseg.weights.fit).
        student, own = SUB_MODELS[0], self.student_attr + '.'
        if not prefix and state_dict and not any(sub_model_of(k) for k in state_dict):
            weights = sub_models(dict(state_dict))[0]['model']
            check_fits(self.model.state_dict(), weights, f'the checkpoint does not fit the student of '
                       f'{type(self).__name__} (another architecture?)', optional_suffix='num_batches_tracked')
            held = [sub for sub, _ in self.sub_models() if sub is student or sub.name in COPIED_FROM_STUDENT]
            prefixes = {sub: own if sub is student else sub.prefix for sub in held}
            state_dict.clear()
            state_dict.update({prefixes[sub] + k: v for sub in held for k, v in weights.items()})
            print_log(f'{type(self).__name__}: a plain segmentor checkpoint, loaded as the '
                      + ' and the '.join(f'{sub.name} ({prefixes[sub]}*)' for sub in held), logger='current')
        elif not prefix:
            # The student of a checkpoint that names it otherwise (DDB's stu_model.*, or model.* into CKD).
            for key in [k for k in state_dict if sub_model_of(k) is student and not k.startswith(own)]:
                state_dict[own + canonical_key(key)[len(student.prefix):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def to_input_format(self, img):
        return img.contiguous(memory_format=self.input_memory_format)

    # -- mode handling -----------------------------------------------------------------------------------

    def train(self, mode: bool = True):
        super().train(mode)
        for name, policy in self.teachers.items():
            policy.set_mode(getattr(self, name), mode)
        for component in self.components:
            component.set_mode(mode)
        return self

    @property
    def num_classes(self) -> int:
        """The student's classes, as a plain segmentor answers it."""
        return self.model.num_classes

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        return self.model(inputs, data_samples, mode)

    def val_step(self, data):
        return self.model.val_step(data)

    def test_step(self, data):
        return self.model.test_step(data)

    # -- the training step -------------------------------------------------------------------------------

    def train_step(self, data: dict, optim_wrapper) -> dict:
        """One iteration on a batch of source (``inputs``, ``data_samples``) and target (``target_inputs``,
        ``target_data_samples``) images, ending with one optimiser step.

        Returns:
            dict[str, Tensor]: log variables (scalar tensors, not yet copied to the host).
        """
        step = self.begin_step(data)
        for name, policy in self.teachers.items():
            policy.update(getattr(self, name), self.model, step.iteration)
        for component in self.components:
            component.update(self, step)
        log_vars = {}
        total = 0
        for component in self.components:
            with optim_wrapper.optim_context(self):
                losses = component.loss(self, step)
            logged = self._backward(optim_wrapper, losses, component.prefix)
            total = total + logged[f'{component.prefix}.loss']
            log_vars.update(logged)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        self._local_iter = step.iteration + 1
        self.last_step = step if self.keep_step else None
        log_vars['loss'] = total
        return log_vars

    def begin_step(self, data: dict) -> UDAStep:
        """Preprocess both domains' batches, and any extra batch (:func:`extra_batches`), and seed this iteration's
        randomness."""
        iteration = self._iteration()
        generator = self._seed_iteration(iteration)
        source = self._domain_batch(data['inputs'], data['data_samples'], labelled=True)
        target = self._domain_batch(data['target_inputs'], data['target_data_samples'])
        step = UDAStep(iteration, generator, source, target)
        for name, (inputs, samples) in extra_batches(data).items():
            # Labelled when its samples carry ground truth (e.g. source crops).
            if inputs and isinstance(inputs[0], (list, tuple)):
                step.extra[name] = [self._domain_batch(i, s, labelled=_has_labels(s)) for i, s in zip(inputs, samples)]
            else:
                step.extra[name] = self._domain_batch(inputs, samples, labelled=_has_labels(samples))
        return step

    def _domain_batch(self, inputs, data_samples, labelled: bool = False) -> DomainBatch:
        batch = self.data_preprocessor(dict(inputs=inputs, data_samples=data_samples), True)
        label = stacked_labels(batch['data_samples']) if labelled else None
        return DomainBatch(self.to_input_format(batch['inputs']), batch['data_samples'], label)

    def _iteration(self) -> int:
        return current_iteration(self._local_iter)

    def _seed_iteration(self, iteration: int) -> torch.Generator:
        """Seed the global generators (dropout and drop-path of the student, HRDA's detail crop) and return a CPU
        generator for the mixing and augmentation draws of this iteration."""
        return seed_iteration(self._base_seed, iteration)

    def _backward(self, optim_wrapper, losses: dict, prefix: str) -> dict:
        # No finiteness check here: reading the loss would make the host wait for the GPU. The runner's
        # DeferredRuntimeInfoHook stops training on a non-finite loss before the next checkpoint.
        loss, log_vars = self.parse_losses(losses)
        if loss.requires_grad:  # a constant loss (no parameter involved) has no gradient to give
            optim_wrapper.backward(loss)
        return {f'{prefix}.{k}': v for k, v in log_vars.items()}
