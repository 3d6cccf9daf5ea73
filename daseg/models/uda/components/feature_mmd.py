"""MMD feature alignment (the ``mmd`` of the CLUDA-style DAFormer fork): the multi-kernel Gaussian MMD between the
globally pooled last-stage features of the source images and of the mixed (or the target) images, trained into
the student's encoder.

The fork detached both features, so its MMD loss gave no gradient to the model (it was only logged).

Cost: the component runs the student's encoder (no decode head) once more on the source and once more on the other
batch, and back-propagates through both: about one encoder forward and backward pass per domain per iteration, and
the memory of those two graphs while its loss is computed. BatchNorm layers of the encoder (e.g. ResNet) see each
batch on its own, as in the source and the mixed losses, and update their running statistics again.
"""
import torch.nn.functional as F
from mmseg.registry import MODELS

from ....errors import UserError
from ..mmd import multi_kernel_mmd
from .base import UDAComponent

DOMAINS = ('mixed', 'target')


@MODELS.register_module()
class FeatureMMD(UDAComponent):
    """``loss_weight`` x MMD between ``AdaptiveAvgPool2d(1)`` of the student's last backbone map (after the neck,
    if any; HRDA: the context scale) of the source images and of the other batch.

    Args:
        loss_weight (float): weight of the MMD. Default 0.05 (the fork's).
        domain (str): the other batch: ``'mixed'`` (the ClassMix images after their colour jitter and blur, as the
            fork; a ``ClassMixSelfTraining`` component must run before) or ``'target'`` (the unmixed target).
        kernel_mul (float): ratio of successive kernel bandwidths. Default 2.0.
        kernel_num (int): number of Gaussian kernels. Default 5.
        name (str): attribute name. Default ``'mmd'``.
        prefix (str): log prefix. Default ``'mmd'`` (the loss is logged as ``mmd.loss_mmd``, as the fork).
    """

    # The decode head takes no part (under DDP, a last FeatureMMD turns find_unused_parameters on).
    trains_whole_student = False

    def __init__(self, loss_weight: float = 0.05, domain: str = 'mixed', kernel_mul: float = 2.0,
                 kernel_num: int = 5, name: str = 'mmd', prefix: str = 'mmd'):
        super().__init__(name, prefix)
        if domain not in DOMAINS:
            raise UserError(f'FeatureMMD domain must be one of {", ".join(DOMAINS)}, got {domain!r}')
        self.loss_weight = loss_weight
        self.domain = domain
        self.kernel_mul = kernel_mul
        self.kernel_num = kernel_num

    def other_images(self, step):
        """The images compared with the source: the step's ClassMix images or its target images."""
        if self.domain == 'target':
            return step.target.img
        if 'class_mix' not in step.cache:
            raise UserError("FeatureMMD(domain='mixed') reads the ClassMix images: put it after a "
                            'ClassMixSelfTraining component (DACS has one)')
        return step.cache['class_mix']['image']

    def loss(self, uda, step) -> dict:
        pooled = [F.adaptive_avg_pool2d(uda.model.train_features(img)[-1], 1).flatten(1)
                  for img in (step.source.img, uda.to_input_format(self.other_images(step)))]
        mmd = multi_kernel_mmd(*pooled, kernel_mul=self.kernel_mul, kernel_num=self.kernel_num)
        return {'loss_mmd': self.loss_weight * mmd}
