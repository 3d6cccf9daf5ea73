"""MRM, masked representation modeling (CVPR 2026): the student's decode head must predict the pseudo-labels from
features whose masked tokens a training-only Rebuilder rebuilt (:mod:`daseg.models.uda.rebuilder`).

Choices the release leaves open, made here:

* pseudo-labels and weights: the DACS teacher's on the unmixed target, with its confidence weight, the same
  ones ClassMix and MIC use (computed once per iteration); ``teacher`` names another EMA teacher;
* images: the target batch by default (the paper's best), ``domain='source'`` (ground truth) or ``'both'``;
* HRDA: the context maps and the detail crop's maps are rebuilt separately (each with its own mask), so the
  fused loss and the detail loss both train through rebuilt features, as the whole HRDA head does at inference;
* the student's encoder runs once more, on the unmixed images: no step of DACS computes student features of
  them (the student sees only the mixed images), and the gradient must reach the encoder.

The Rebuilder is saved under ``mrm.rebuilder.*`` in training checkpoints; it is no sub-model (daseg.weights), so
evaluation, merging and conversion leave it out, and a trained model evaluates like its base.
"""
import functools

from mmseg.registry import MODELS

from ....errors import UserError
from ..rebuilder import rebuilder_levels
from .base import UDAComponent
from .self_training import teacher_pseudo_labels

DOMAINS = ('target', 'source', 'both')


@MODELS.register_module()
class MaskedRepresentationModeling(UDAComponent):
    """Decode-head loss on Rebuilder features times ``lambda_mrm`` (see the module docstring).

    Args:
        rebuilder (dict): Rebuilder options (``embed_dim``, ``grid``, ``mask_ratio``, ``depth``, ``num_heads``,
            ``mlp_ratio``, ``upsample_steps``); its levels are the student's decode head's.
        lambda_mrm (float): weight of the loss. Default 1.0.
        domain (str): ``'target'`` (pseudo-labels), ``'source'`` (ground truth) or ``'both'``.
        teacher (str): the EMA teacher whose pseudo-labels are used. Default ``'ema_model'``.
        name (str): attribute name (checkpoint prefix). Default ``'mrm'``.
        prefix (str): log prefix. Default ``'mrm'``.
    """

    def __init__(self, rebuilder: dict = None, lambda_mrm: float = 1.0, domain: str = 'target',
                 teacher: str = 'ema_model', name: str = 'mrm', prefix: str = 'mrm'):
        super().__init__(name, prefix)
        if domain not in DOMAINS:
            raise UserError(f'MRM domain must be one of {", ".join(DOMAINS)}, got {domain!r}')
        self.rebuilder_cfg = dict(rebuilder or {})
        self.lambda_mrm = lambda_mrm
        self.domain = domain
        self.teacher = teacher

    def setup(self, uda) -> None:
        if self.domain != 'source' and self.teacher not in uda.teachers:
            raise UserError(f'MRM: the wrapper has no teacher {self.teacher!r}')
        self.rebuilder = MODELS.build(dict(type='Rebuilder', **rebuilder_levels(uda.model.decode_head),
                                           **self.rebuilder_cfg))

    def loss(self, uda, step) -> dict:
        batches = []
        if self.domain != 'source':
            label, weight = teacher_pseudo_labels(uda, step, self.teacher)
            batches.append((step.target.img, label, weight))
        if self.domain != 'target':
            batches.append((step.source.img, step.source.label, None))
        rebuild = functools.partial(self.rebuilder, generator=step.generator)
        losses = {}
        for img, label, weight in batches:
            part = uda.model.loss_by_label(img, label, weight, feature_transform=rebuild)[0]
            for key, value in part.items():
                # Losses are weighted and summed over the domains; accuracies are averaged.
                scale = self.lambda_mrm if 'loss' in key else 1 / len(batches)
                losses[key] = losses.get(key, 0) + scale * value
        return losses
