"""Supervised loss on the source batch, with DAFormer's ImageNet feature distance on thing-class pixels."""
import torch
from mmseg.registry import MODELS

from ..feature_distance import THING_CLASSES, thing_class_fd_loss
from .base import UDAComponent


@MODELS.register_module()
class SourceSupervision(UDAComponent):
    """Student losses on the labelled source batch (the segmentor's own: HRDA's fused + detail losses for HRDA),
    plus, when ``imnet_teacher`` is set, the feature distance to a frozen ImageNet model, in one backward pass.

    Args:
        imnet_teacher (str | None): attribute of the frozen ImageNet teacher; None: no feature distance.
        feature_dist_lambda (float): weight of the feature distance (DAFormer: 0.005).
        feature_dist_classes (Sequence[int]): classes whose pixels the distance covers (the thing classes).
        feature_dist_scale_min_ratio (float): majority share for downscaling labels to feature size.
        name (str): attribute name. Default ``'src'``.
        prefix (str): log prefix. Default ``'src'``.
    """

    # The feature distance, which ``--compile`` may replace by a compiled function (the losses are the student's).
    COMPILED = ('fd_loss',)

    def __init__(self, imnet_teacher=None, feature_dist_lambda: float = 0.005,
                 feature_dist_classes=THING_CLASSES, feature_dist_scale_min_ratio: float = 0.75,
                 name: str = 'src', prefix: str = 'src'):
        super().__init__(name, prefix)
        self.imnet_teacher = imnet_teacher
        self.fd_lambda = feature_dist_lambda
        self.fd_min_ratio = feature_dist_scale_min_ratio
        self.register_buffer('_fd_classes', torch.tensor(tuple(feature_dist_classes), dtype=torch.long),
                             persistent=False)

    def loss(self, uda, step) -> dict:
        losses, feats = uda.model.loss_by_label(step.source.img, step.source.label)
        if self.imnet_teacher is not None:
            with torch.no_grad():
                # HRDA's extract_feat returns the context scale, the one loss_by_label returns.
                imnet_feats = getattr(uda, self.imnet_teacher).extract_feat(step.source.img)
            # float32 distances: a bfloat16 norm over 512 channels would lose the small differences it measures.
            losses['fd.loss'] = self.fd_loss(feats[-1].float(), imnet_feats[-1].float(), step.source.label,
                                             uda.model.num_classes)
        return losses

    def fd_loss(self, f_student, f_imnet, label, num_classes):
        """The weighted thing-class feature distance between student and ImageNet features [N, C, h, w], for
        labels in [0, num_classes) or ignore."""
        return thing_class_fd_loss(f_student, f_imnet, label, thing_classes=self._fd_classes,
                                   lambda_fd=self.fd_lambda, min_ratio=self.fd_min_ratio, n_classes=num_classes)
