"""Stage 0 of union-set adaptation, and the source models' joint prediction that stage 1's pseudo-labels come from.

Trained on one source (``held=[source]``), the model learns that source's own label set: every 19-class label is
mapped to the source's local classes, the classes it does not label to 0 ("other"); void pixels become "other"
too, as the original does (its mapped label starts as 0), unless ``void='ignore'``. Holding every source (no
training), it predicts the mean over sources of their lifted softmaxes (the "other" mass split evenly over the
classes a source does not know): the stage-1 pseudo-labels, and the source models' ensemble in a table.
"""
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.models.segmentors.uda_encoder_decoder import stacked_labels
from .base import UnionSetBase
from .ensemble import lift
from .label_sets import VOID_MODES

IGNORE = 255


@MODELS.register_module()
class UnionSetSources(UnionSetBase):
    """Source models of a union-set experiment (see the module docstring).

    Args:
        void (str): what void (255) source pixels train as in settings ``p``/``n``: ``'other'`` (the original)
            or ``'ignore'``. In ``f`` they are ignored (there is no "other" class).
        **kwargs: :class:`UnionSetBase` arguments.
    """

    def __init__(self, void='other', **kwargs):
        if void not in VOID_MODES:
            raise UserError(f'UnionSetSources: void must be one of {", ".join(VOID_MODES)}, got {void!r}')
        super().__init__(**kwargs)
        self.void = void

    def loss(self, inputs, data_samples):
        """Cross-entropy of each held branch on the batch's labels in its local classes.

        Args:
            inputs (Tensor): images [N, 3, H, W].
            data_samples (list[SegDataSample]): with 19-class ``gt_sem_seg`` (trainIds, 255 void).
        """
        labels = stacked_labels(data_samples)
        losses = {}
        for source, label_set in self.label_sets.items():
            logits = self.upsample(self.head(source, self.features(source, inputs)), labels.shape[1:])
            local = label_set.to_local(labels, void=self.void)
            name = 'decode' if len(self.branches) == 1 else source
            losses[f'{name}.loss_ce'] = F.cross_entropy(logits, local, ignore_index=IGNORE)
        return losses

    def probabilities(self, inputs):
        size = inputs.shape[2:]
        lifted = [lift(self.upsample(self.head(s, self.features(s, inputs)), size).softmax(1), label_set)
                  for s, label_set in self.label_sets.items()]
        return torch.stack(lifted).mean(0)
