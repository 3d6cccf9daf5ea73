"""The ResNet of the original DeepLab-v2 (AdaptSegNet's ``deeplab.py``, the model of union-set adaptation).

A "caffe"-style ResNet with the 7x7 stem: conv1 7x7 stride 2 (no bias), bn1, ReLU, a 3x3 stride-2 max pool with
``ceil_mode=True``; bottlenecks with the stride on their first 1x1 conv; layer2 at stride 2, layer3 and layer4 at
stride 1 with dilation 2 and 4 in every block (no contracted first block); output stride 8. mmseg's ``ResNet``
has these modules under the original's names (``conv1``, ``bn1``, ``layer{i}.{k}.conv{1,2,3}`` / ``bn{1,2,3}``,
``downsample.{0,1}``); only its max pool rounds down, so it is replaced.

``pretrained`` is read weights-only and strictly (:mod:`daseg.weights.deeplab_keys`): ``DeepLab_init.pth``
(every key under one prefix, its ``layer5`` classifier dropped), an original DeepLab segmentor, this project's
segmentor or a bare backbone.
"""
import torch.nn as nn
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.weights import check_fits
from daseg.weights.deeplab_keys import STEP_COUNTER, split_deeplab_backbone
from daseg.weights.encoder_keys import CheckedPretrained

# ResNet arguments that would rename or reshape the original's modules.
_FIXED = dict(deep_stem=False, avg_down=False, stem_channels=64, base_channels=64, num_stages=4)


@MODELS.register_module()
class DeepLabResNet(CheckedPretrained, ResNet):
    """ResNet of the original DeepLab-v2, with safe, strict loading of a local weights file.

    Args:
        depth (int): 50, 101 (the original) or 152 (bottlenecks); 18 or 34 (basic blocks, for small demos).
        strides (Sequence[int]): stride of each stage. Default (1, 2, 1, 1).
        dilations (Sequence[int]): dilation of every block of each stage. Default (1, 1, 2, 4).
        out_indices (Sequence[int]): stages whose output is returned. Default (0, 1, 2, 3).
        style (str): ``'caffe'`` (the original): the stride on a bottleneck's first 1x1 conv.
        contract_dilation (bool): halve the dilation of a stage's first block; the original does not.
        pretrained (str | None): ``pretrained/DeepLab_init.pth`` or another file of the layouts above, loaded by
            :meth:`init_weights`. None: mmseg's random init (Kaiming convs, zero-init residual BN).
        **kwargs: other ``ResNet`` arguments (``norm_cfg``, ``norm_eval``, ``frozen_stages``, ``with_cp``...).

    Inputs (B, 3, H, W); outputs one map per ``out_indices`` entry: stage i has 256 * 2**i channels (64 * 2**i
    for depth 18/34) at stride 4, 8, 8, 8. Heights (widths alike): the stem gives h = floor((H - 1) / 2) + 1,
    the max pool rounds up to h0 = floor(h / 2) + 1 (stage 0), stages 1-3 are floor((h0 - 1) / 2) + 1 high;
    a 512 x 1024 input gives 129 x 257 and 65 x 129 (64 x 128 if the pool rounded down).
    """

    def __init__(self, depth=101, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(0, 1, 2, 3),
                 style='caffe', contract_dilation=False, pretrained=None, **kwargs):
        if depth not in ResNet.arch_settings:
            raise UserError(f'DeepLabResNet: depth must be one of {sorted(ResNet.arch_settings)}, got {depth!r}')
        for name, value in _FIXED.items():
            if kwargs.get(name, value) != value:
                raise UserError(f'DeepLabResNet: {name} is fixed to {value} (the original\'s 7x7 stem and widths), '
                                f'got {kwargs[name]!r}; for the three-conv stem use CheckedResNetV1c')
            kwargs[name] = value
        super().__init__(depth=depth, strides=strides, dilations=dilations, out_indices=out_indices, style=style,
                         contract_dilation=contract_dilation, pretrained=pretrained, **kwargs)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)

    def split_checkpoint(self, checkpoint, source='weights'):
        """The backbone weights of a loaded checkpoint and the keys left out; refuses weights that are not
        exactly this model's (step counters optional)."""
        sd, dropped = split_deeplab_backbone(checkpoint, source)
        check_fits(self.state_dict(), sd, f'{source} does not fit DeepLabResNet-{self.depth}',
                   optional_suffix=STEP_COUNTER)
        return sd, dropped

    def expected_absent(self, key):
        return key.endswith(STEP_COUNTER)
