"""Stage 1 of union-set adaptation: every source model adapts to the target on the stage-1 pseudo-labels, each
head also reading the other sources' backbones (ORIGINALS_2.md section 5.3).

One iteration on a target batch with 19-class pseudo-labels y (y_s: y in source s's local classes) makes three
optimiser steps:

1. supervision and cross-model consistency, one step: for each source s, CE(C_s(E_s x), y_s) + CE(ens(E_s x), y)
   + MS(C_s(E_s x)) + MS(ens(E_s x)); then, with a random non-identity permutation pi of the sources,
   mean|softmax(ens of C_s(E_s x)) - softmax(ens of C_s(E_pi(s) x))| + the logit consistency of the heads
   C_s(E_pi(s) x) on the classes several sources know;
2. heads only (features without gradient): for each s, CE(C_s(E_s x), y_s) minus the mean over s' != s of
   mean|softmax(C_s(E_s' x)) - softmax(C_s(E_s x))|: the heads tell the backbones apart;
3. backbones only (heads frozen): for each s, the mean over s' != s of CE(C_s'(E_s x), y_s') + MS(C_s'(E_s x)),
   plus the logit consistency of every head on E_s x.

ens is the logit ensemble over the heads that know a class, MS the MaxSquare term. Each step's forward pass runs
after the previous step, on the weights it left. The model predicts the mean over backbones of softmax(ens(E_s x)),
which is also what stage 2's pseudo-labels are made of.
"""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.models.segmentors.uda_encoder_decoder import stacked_labels
from daseg.models.utils.iteration_seed import current_iteration, seed_iteration
from .base import UnionSetBase, frozen, optimiser_step
from .ensemble import logit_ensemble, max_square, shared_logit_consistency

IGNORE = 255


def non_identity_permutation(n, generator):
    """A uniformly drawn permutation of range(n) other than the identity (n >= 2)."""
    while True:
        perm = torch.randperm(n, generator=generator).tolist()
        if perm != list(range(n)):
            return perm


def mean_abs_softmax_gap(a, b):
    """mean |softmax(a) - softmax(b)| over every element of two logit maps of equal shape."""
    return (a.softmax(1) - b.softmax(1)).abs().mean()


@MODELS.register_module()
class UnionSetStage1(UnionSetBase):
    """The stage-1 models of every source (see the module docstring); ``init_from`` names their stage-0 models.

    Args:
        **kwargs: :class:`UnionSetBase` arguments; it holds every source (``held`` must be all of them).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if len(self.branches) < 2:
            raise UserError('UnionSetStage1 needs the models of two or more sources')
        self._base_seed = torch.initial_seed()
        self._local_iter = 0

    def probabilities(self, inputs):
        size = inputs.shape[2:]
        return torch.stack([self.upsample(self.ensemble(self.features(s, inputs)), size).softmax(1)
                            for s in self.branches]).mean(0)

    def train_step(self, data, optim_wrapper):
        """One iteration: three optimiser steps (module docstring). Returns the log variables."""
        iteration = current_iteration(self._local_iter)
        generator = seed_iteration(self._base_seed, iteration)
        batch = self.data_preprocessor(data, True)
        inputs, labels = batch['inputs'], stacked_labels(batch['data_samples'])
        local = {s: ls.to_local(labels, void='ignore') for s, ls in self.label_sets.items()}
        losses = {}
        with optim_wrapper.optim_context(self):
            losses.update(self.supervised_and_consistency(inputs, labels, local, generator))
        optimiser_step(optim_wrapper, sum(losses.values()))
        with optim_wrapper.optim_context(self):
            losses['loss_heads'] = self.head_discrepancy(inputs, local)
        optimiser_step(optim_wrapper, losses['loss_heads'])
        with frozen([b.decode_head for b in self.branches.values()]), optim_wrapper.optim_context(self):
            losses['loss_backbones'] = self.backbone_transfer(inputs, local)
            optimiser_step(optim_wrapper, losses['loss_backbones'])
        self._local_iter = iteration + 1
        log = {k: v.detach() for k, v in losses.items()}
        log['loss'] = sum(log.values())
        return log

    def supervised_and_consistency(self, inputs, labels, local, generator):
        """Step 1's losses: ``loss_sup`` (CE and MaxSquare of each model and of the ensemble on its backbone),
        ``loss_cmc1`` (ensemble over own vs permuted backbones), ``loss_cmc2`` (head logits on shared classes)."""
        sources, sets = list(self.branches), list(self.label_sets.values())
        size = labels.shape[1:]
        feats = {s: self.features(s, inputs) for s in sources}
        # logits[b][h]: head h on backbone b, at the feature resolution.
        logits = {b: {h: self.head(h, feats[b]) for h in sources} for b in sources}
        sup = 0
        for s in sources:
            own = self.upsample(logits[s][s], size)
            ens = self.upsample(logit_ensemble([logits[s][h] for h in sources], sets), size)
            sup = sup + F.cross_entropy(own, local[s], ignore_index=IGNORE) \
                + F.cross_entropy(ens, labels, ignore_index=IGNORE) + max_square(own) + max_square(ens)
        perm = non_identity_permutation(len(sources), generator)
        crossed = [logits[sources[perm[i]]][s] for i, s in enumerate(sources)]  # head s on backbone pi(s)
        ens_own = self.upsample(logit_ensemble([logits[s][s] for s in sources], sets), size)
        ens_cm = self.upsample(logit_ensemble(crossed, sets), size)
        return {'loss_sup': sup, 'loss_cmc1': mean_abs_softmax_gap(ens_own, ens_cm),
                'loss_cmc2': shared_logit_consistency([self.upsample(z, size) for z in crossed], sets)}

    def head_discrepancy(self, inputs, local):
        """Step 2's loss: each head's CE on its own backbone minus its mean disagreement across the other
        backbones (features without gradient: only the heads learn)."""
        sources = list(self.branches)
        size = next(iter(local.values())).shape[1:]
        with torch.no_grad():
            feats = {s: self.features(s, inputs) for s in sources}
        loss = 0
        for s in sources:
            own = self.upsample(self.head(s, feats[s]), size)
            gap = sum(mean_abs_softmax_gap(self.upsample(self.head(s, feats[o]), size), own)
                      for o in sources if o != s)
            loss = loss + F.cross_entropy(own, local[s], ignore_index=IGNORE) - gap / (len(sources) - 1)
        return loss

    def backbone_transfer(self, inputs, local):
        """Step 3's loss: every backbone trained through the other sources' (frozen) heads, and the heads' logit
        consistency on it."""
        sources, sets = list(self.branches), list(self.label_sets.values())
        size = next(iter(local.values())).shape[1:]
        loss = 0
        for s in sources:
            feat = self.features(s, inputs)
            heads = {h: self.upsample(self.head(h, feat), size) for h in sources}
            others = sum(F.cross_entropy(heads[o], local[o], ignore_index=IGNORE) + max_square(heads[o])
                         for o in sources if o != s)
            loss = loss + others / (len(sources) - 1) + shared_logit_consistency(list(heads.values()), sets)
        return loss
