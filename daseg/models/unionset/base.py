"""What every union-set model shares: one branch (backbone + classifier over the source's own label set) per
source, the logit ensemble of the heads, and a 19-class prediction.

Each model of the method answers ``probabilities(inputs)``: the class probabilities [N, 19, H, W] at the image
size that its stage predicts with (the lifted source models, the ensemble on each source backbone, the final
backbone with the source heads). Its mmseg prediction is their logarithm, so argmax, test.sh, its multi-scale
test-time augmentation (softmax of the logits) and the pseudo-labels all read the same numbers.
"""
import contextlib
from abc import abstractmethod

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule, ModuleDict
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.weights.branches import read_branch
from daseg.weights.keys import check_fits
from .ensemble import logit_ensemble
from .label_sets import NUM_CLASSES, label_sets

# log(0) of a class no model gives any mass to: finite, so that argmax and softmax stay defined.
_LOG_FLOOR = 1e-12


class Branch(BaseModule):
    """A source's model: a backbone and a decode head over its local classes (a BaseModule, so that the model's
    ``init_weights`` reaches theirs: the backbone's pretrained file, the head's initialiser).

    Args:
        backbone (dict): backbone config.
        decode_head (dict): decode head config; ``num_classes`` is set to the source's local class count.
        num_classes (int): the source's local classes.
    """

    def __init__(self, backbone, decode_head, num_classes):
        super().__init__()
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(dict(decode_head, num_classes=num_classes))

    def forward(self, inputs):
        """Backbone maps of images [N, 3, H, W]."""
        return self.backbone(inputs)


class UnionSetBase(BaseSegmentor):
    """Branches for some or all of the sources of a union-set experiment.

    Args:
        setting (str): label setting ``'f'``, ``'p'`` or ``'n'`` (:mod:`.label_sets`).
        sources (Sequence[str]): every source of the experiment, e.g. ``['gta', 'synthia']``: the label tables
            depend on the whole list.
        backbone (dict), decode_head (dict): one branch's modules (e.g. ``DeepLabResNet`` and ``DLV2Head``).
        held (Sequence[str] | None): the sources this model holds a branch for (default: all).
        init_from (dict[str, str] | None): source -> file its branch starts from (:func:`read_branch`: a stage
            checkpoint of this method, a segmentor checkpoint, or the original's ``{source}_{iter}.pth``), loaded
            strictly by :meth:`init_weights` (training); None: the backbone's ``pretrained`` and a fresh head.
        align_corners (bool): of the logits' upsampling to the image size (True in the original).
        data_preprocessor (dict), init_cfg (dict): as for mmseg segmentors.
    """

    def __init__(self, setting, sources, backbone, decode_head, held=None, init_from=None, align_corners=True,
                 data_preprocessor=None, init_cfg=None, train_cfg=None, test_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        sets = dict(zip(sources, label_sets(setting, list(sources))))
        held = list(sources) if held is None else list(held)
        unknown = [s for s in held if s not in sets]
        if unknown or not held:
            raise UserError(f'{type(self).__name__}: held={held} must name sources among {list(sources)}')
        self.setting = setting
        self.label_sets = {s: sets[s] for s in held}
        self.init_from = dict(init_from or {})
        # A branch that starts from a file need not read the backbone's initial weights first.
        # mmengine's ModuleDict: init_weights reaches through it (torch's would stop the recursion there).
        self.branches = ModuleDict({
            s: Branch(dict(backbone, pretrained=None) if s in self.init_from and 'pretrained' in backbone
                      else backbone, decode_head, sets[s].num_local)
            for s in held})
        extra = sorted(set(self.init_from) - set(held))
        if extra:
            raise UserError(f'{type(self).__name__}: init_from names {extra}, which this model holds no branch for')
        self.align_corners = align_corners
        self.num_classes = NUM_CLASSES
        self.out_channels = NUM_CLASSES
        self.test_cfg = test_cfg

    @property
    def decode_head(self):
        """The first branch's head (what tools that inspect a segmentor's head read, e.g. its align_corners)."""
        return next(iter(self.branches.values())).decode_head

    # -- weights ------------------------------------------------------------------------------------------

    def init_weights(self):
        super().init_weights()
        for source, path in self.init_from.items():
            self.load_branch(source, path)

    def load_branch(self, source, path):
        """Load ``path``'s model of ``source`` into its branch, strictly (BN step counters may be absent)."""
        sd, notes = read_branch(path, source)
        branch = self.branches[source]
        check_fits(branch.state_dict(), sd, f'{path} does not fit the {source} branch (another architecture or '
                   f'label setting?)', optional_suffix='num_batches_tracked')
        branch.load_state_dict(sd, strict=False)
        for note in notes:
            print_log(f'{source} branch: {note}', logger='current')
        print_log(f'{source} branch: loaded {path}', logger='current')

    # -- the calls every stage uses ----------------------------------------------------------------------

    def features(self, source, inputs):
        """Source's backbone on images [N, 3, H, W]: its list of maps (the heads read theirs by ``in_index``)."""
        return list(self.branches[source](inputs))

    def head(self, source, features):
        """Source's classifier on a backbone's maps: local logits at the feature resolution."""
        return self.branches[source].decode_head(features)

    def ensemble(self, features):
        """The logit ensemble of every held head on one backbone's maps: [N, 19, h, w]."""
        return logit_ensemble([self.head(s, features) for s in self.branches], list(self.label_sets.values()))

    def upsample(self, logits, size):
        """Logits resized to the image size (bilinear, with the model's align_corners)."""
        return F.interpolate(logits, size=size, mode='bilinear', align_corners=self.align_corners)

    @abstractmethod
    def probabilities(self, inputs):
        """Class probabilities [N, 19, H, W] at the image size; defined by each stage's model."""

    # -- mmseg's segmentor interface ----------------------------------------------------------------------

    def extract_feat(self, inputs):
        """Every held backbone's maps, in source order."""
        return [self.features(s, inputs) for s in self.branches]

    def encode_decode(self, inputs, batch_img_metas=None):
        return torch.log(self.probabilities(inputs).clamp_min(_LOG_FLOOR))

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs)

    def predict(self, inputs, data_samples=None):
        return self.postprocess_result(self.encode_decode(inputs), data_samples)

    def loss(self, inputs, data_samples):
        raise UserError(f'{type(self).__name__} trains through its own train_step')

    def pseudo_logits(self, inputs, batch_img_metas=None):
        """The prediction as logits (log-probabilities) [N, 19, H, W], as every segmentor here answers it."""
        return self.encode_decode(inputs)


def optimiser_step(optim_wrapper, loss):
    """Backward ``loss``, step and clear the gradients: one of a stage's optimiser steps within an iteration.
    Parameters that took no gradient (frozen, or outside the loss) have none and are left as they are."""
    optim_wrapper.backward(loss)
    optim_wrapper.step()
    optim_wrapper.zero_grad()


@contextlib.contextmanager
def frozen(modules):
    """Within it, ``modules``' trainable parameters take no gradient (the original's ``requires_grad=False``)."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
