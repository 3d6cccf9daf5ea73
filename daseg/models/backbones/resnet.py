"""ResNet-V1c (three 3x3 stem convs) whose ImageNet weights are read weights-only and checked key by key.

mmseg's ``ResNetV1c(pretrained=...)`` hands the file to mmengine's ``Pretrained`` initialiser, which falls back
to unpickling with weights_only off (running any code in the file) and loads non-strictly (a wrong file
silently leaves layers random). ``CheckedResNetV1c`` has the same modules and key names; only the loading
differs: through :func:`daseg.weights.load_checkpoint_file`, strictly, naming every unknown or missing key.

The file is mmcv's ImageNet layout (``resnet101_v1c-e67eebb6.pth``): a raw state dict or ``{'state_dict': ...}``
with ``stem.{0,1,3,4,6,7}.*``, ``layer{1-4}.{k}.conv{1,2,3}.weight``, ``.bn{1,2,3}.*``, ``.downsample.{0,1}.*``
and the ImageNet classifier ``fc.*``, which is dropped.
"""
from mmengine.logging import print_log
from mmseg.models.backbones import ResNetV1c
from mmseg.registry import MODELS

from daseg.weights import check_fits, unwrap_state_dict
from daseg.weights.encoder_keys import CheckedPretrained
from daseg.errors import UserError

# Not part of the backbone: the ImageNet classifier.
_CLASSIFIER_PREFIX = 'fc.'
# BN step counters: torch < 0.4.1 did not save them and they do not change the function (momentum is set).
_OPTIONAL_SUFFIX = 'num_batches_tracked'


def resnet_state_dict(checkpoint, source='weights'):
    """The bare backbone weights inside a loaded ResNet checkpoint.

    Args:
        checkpoint (dict): a raw state dict, or one under ``state_dict`` / ``model``; keys may carry a ``module.``
            (DataParallel) or ``backbone.`` (a whole segmentor) prefix.
        source (str): name of the file, for messages.

    Returns:
        dict[str, Tensor]: weights named as in the backbone, classifier dropped.
    """
    sd = unwrap_state_dict(checkpoint, source)
    if any(k.startswith('backbone.') for k in sd):
        sd = {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}
    if 'conv1.weight' in sd and 'stem.0.weight' not in sd:
        raise UserError(f'{source} holds a ResNet with a 7x7 stem (conv1.weight, torchvision / ResNetV1b layout); '
                        'ResNetV1c needs the three-conv stem (stem.0.weight), e.g. mmcv resnet101_v1c-e67eebb6.pth')
    return {k: v for k, v in sd.items() if not k.startswith(_CLASSIFIER_PREFIX)}


@MODELS.register_module()
class CheckedResNetV1c(CheckedPretrained, ResNetV1c):
    """mmseg's ``ResNetV1c`` with safe, strict loading of a local ImageNet weights file.

    Args:
        pretrained (str | None): mmcv-layout ResNet-V1c weights, e.g. ``pretrained/resnet101_v1c-e67eebb6.pth``;
            loaded by :meth:`init_weights`. None: mmseg's random init (Kaiming convs, zero-init residual BN).
        **kwargs: ``ResNetV1c`` arguments (``depth``, ``dilations``, ``strides``, ``contract_dilation``,
            ``norm_cfg``, ``norm_eval``, ``out_indices``...).

    Inputs (B, 3, H, W); outputs one map per ``out_indices`` entry, (B, 256 * 2**i, H/s_i, W/s_i).
    """

    def load_pretrained(self, checkpoint, source='weights'):
        """Load a loaded ImageNet checkpoint strictly (classifier dropped); called by ``init_weights``."""
        self.load_checked(resnet_state_dict(checkpoint, source=source), source=source)
        print_log(f'ResNetV1c-{self.depth}: loaded pretrained weights from {source}', logger='current')

    def check_state_dict(self, sd, source='weights'):
        """Raise a UserError unless ``sd`` has this model's keys (step counters optional) and shapes.

        Args:
            sd (dict[str, Tensor]): backbone weights.
            source (str): their origin, for the message.
        """
        check_fits(self.state_dict(), sd, f'{source} does not fit ResNetV1c-{self.depth}',
                   optional_suffix=_OPTIONAL_SUFFIX)

    def load_checked(self, sd, source='weights'):
        """Load backbone weights after :meth:`check_state_dict`; absent step counters keep their value."""
        self.check_state_dict(sd, source)
        self.load_state_dict(sd, strict=False)
