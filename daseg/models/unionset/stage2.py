"""Stage 2 of union-set adaptation: one final backbone E_fin that predicts through the source heads
(ORIGINALS_2.md section 5.3).

The stage-1 source backbones are frozen; the model predicts softmax(ens(E_fin x)), the logit ensemble of the
source heads on the final backbone (a classifier of its own would never be used, so it has none). One iteration
on a target batch with the stage-2 pseudo-labels y makes three optimiser steps:

1. CE(ens(E_fin x), y) + MS(ens(E_fin x)): the final backbone and the heads;
2. each head on its own (frozen) backbone, CE(C_s(E_s x), y_s): the heads;
3. heads frozen: the mean over sources of KL(softmax(C_s(E_s x)) || softmax(C_s(E_fin x))), summed over classes
   and pixels and divided by the pixel count: the final backbone.
"""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from daseg.models.segmentors.uda_encoder_decoder import stacked_labels
from .base import UnionSetBase, frozen, optimiser_step
from .ensemble import max_square

IGNORE = 255


@MODELS.register_module()
class UnionSetStage2(UnionSetBase):
    """Final backbone + the source heads (see the module docstring); ``init_from`` names the stage-1 models.

    Args:
        final_backbone (dict | None): the final backbone's config (default: a branch's backbone, e.g. DeepLab
            ResNet-101 from its ``pretrained`` initial weights, as the original's ``model_fin``).
        **kwargs: :class:`UnionSetBase` arguments.
    """

    def __init__(self, final_backbone=None, **kwargs):
        super().__init__(**kwargs)
        self.final = MODELS.build(final_backbone or kwargs['backbone'])
        for branch in self.branches.values():
            branch.backbone.requires_grad_(False)

    def final_features(self, inputs):
        """The final backbone's maps."""
        return list(self.final(inputs))

    def probabilities(self, inputs):
        return self.upsample(self.ensemble(self.final_features(inputs)), inputs.shape[2:]).softmax(1)

    def train_step(self, data, optim_wrapper):
        """One iteration: three optimiser steps (module docstring). Returns the log variables."""
        batch = self.data_preprocessor(data, True)
        inputs, labels = batch['inputs'], stacked_labels(batch['data_samples'])
        size = labels.shape[1:]
        heads = [b.decode_head for b in self.branches.values()]
        losses = {}
        with optim_wrapper.optim_context(self):
            ens = self.upsample(self.ensemble(self.final_features(inputs)), size)
            losses['loss_final'] = F.cross_entropy(ens, labels, ignore_index=IGNORE) + max_square(ens)
        optimiser_step(optim_wrapper, losses['loss_final'])
        with torch.no_grad():
            feats = {s: self.features(s, inputs) for s in self.branches}
        with optim_wrapper.optim_context(self):
            losses['loss_heads'] = sum(
                F.cross_entropy(self.upsample(self.head(s, feats[s]), size),
                                ls.to_local(labels, void='ignore'), ignore_index=IGNORE)
                for s, ls in self.label_sets.items())
        optimiser_step(optim_wrapper, losses['loss_heads'])
        with frozen(heads), optim_wrapper.optim_context(self):
            losses['loss_kl'] = self.distillation(inputs, feats, size)
            optimiser_step(optim_wrapper, losses['loss_kl'])
        log = {k: v.detach() for k, v in losses.items()}
        log['loss'] = sum(log.values())
        return log

    def distillation(self, inputs, feats, size):
        """Step 3's loss: KL from each source model's prediction to its head on the final backbone."""
        final = self.final_features(inputs)
        pixels = inputs.shape[0] * size[0] * size[1]
        loss = 0
        for s in self.branches:
            with torch.no_grad():
                teacher = self.upsample(self.head(s, feats[s]), size).softmax(1)
            student = self.upsample(self.head(s, final), size).log_softmax(1)
            loss = loss + F.kl_div(student, teacher, reduction='none').sum() / pixels
        return loss / len(self.branches)
