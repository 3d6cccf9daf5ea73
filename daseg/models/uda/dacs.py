"""DACS self-training with an EMA teacher: the DAFormer recipe as a sequence of small named steps.

One training iteration (``DACS.train_step``):

1. ``update_teacher``: EMA of the student's parameters (initialised as a copy at iteration 0);
2. ``source_losses``: student cross-entropy on the source batch, plus the ImageNet feature distance on
   thing-class pixels; one backward pass for both;
3. ``pseudo_labels``: teacher softmax/argmax on the target batch, confidence weight, border cropping;
4. ``class_mix``: half of each source image's classes pasted onto the target image (image, label, weight),
   followed by colour jitter and blur;
5. ``mixed_losses``: pixel-weighted student cross-entropy on the mixed batch; second backward pass;
6. one optimiser step.

With a multi-resolution (HRDA) segmentor, the steps use its multi-resolution paths instead: the source and
mixed losses are its HRDA losses (fused + detail crop, each on a fresh random detail crop), the feature distance
compares its context features, and the pseudo-labels come from the teacher's full multi-resolution inference
(with sliding windows for the detail branch) on the target image; HRDA's pseudo-label margins
(``crop_pseudo_margins``) are applied to that whole image before the student cuts its detail crop.

The sub-models keep the original attribute names, so checkpoints carry the prefixes ``model.`` (student),
``ema_model.`` (teacher) and ``imnet_model.`` (frozen ImageNet model) like DAFormer/HRDA/MIC.

Speed. Every forward pass (student, teacher, ImageNet model) runs inside ``optim_wrapper.optim_context``, so a
mixed-precision optimiser wrapper autocasts all of them; the backward passes go through
``optim_wrapper.backward`` (loss scaling for float16). Softmax confidences and the feature distance are computed
in float32, and autocast keeps the cross-entropy in float32. The step never makes the host wait for the GPU:
log variables stay tensors (the runner copies them in batches and stops on a non-finite loss, see
``DeferredRuntimeInfoHook``), the per-iteration random draws come from a CPU generator (so they are also the same
on any device), and the decode heads' accuracy is computed without boolean indexing.
"""
import copy

import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from ...engine.sync_free_accuracy import use_sync_free_accuracy
from ...errors import UserError
from .class_mix import class_mix_masks, mix
from .ema import disable_teacher_dropout, freeze_teacher, init_teacher, update_teacher
from .feature_distance import THING_CLASSES, thing_class_fd_loss
from .pseudo_label import apply_valid_mask, ignore_border, pseudo_label
from .pseudo_margins import check_margins, ignore_margins
from .strong_aug import strong_transform
from .weighted_ce import pixel_weighted_ce


@MODELS.register_module()
class DACS(BaseModel):
    """UDA wrapper holding the student ``model``, the EMA teacher ``ema_model`` and, when the feature
    distance is on, the frozen ImageNet model ``imnet_model``.

    Args:
        model (dict): Config of the segmentor (e.g. an EncoderDecoder); its data preprocessor serves both
            domains.
        alpha (float): EMA momentum of the teacher.
        pseudo_threshold (float): Softmax confidence that counts a target pixel as reliable.
        pseudo_weight_ignore_top (int): Rows at the top of the target crop whose pseudo weight is 0.
        pseudo_weight_ignore_bottom (int): Rows at the bottom of the target crop whose pseudo weight is 0.
        crop_pseudo_margins (Sequence[int], optional): HRDA's [top, bottom, left, right] pixels at the borders of
            the target image whose pseudo weight is 0 (HRDA on Cityscapes: [30, 240, 30, 30]). None: off.
        imnet_feature_dist_lambda (float): Weight of the ImageNet feature distance; 0 disables it.
        imnet_feature_dist_classes (tuple[int]): Classes whose pixels the feature distance covers.
        imnet_feature_dist_scale_min_ratio (float): Majority share for downscaling labels to feature size.
        color_jitter_strength (float): Brightness/contrast/saturation/hue strength of the jitter.
        color_jitter_probability (float): The jitter applies when a uniform draw exceeds this value.
        blur (bool): Gaussian blur of the mixed images (applied with probability 0.5).
    """

    def __init__(self, model: dict, alpha: float = 0.999, pseudo_threshold: float = 0.968,
                 pseudo_weight_ignore_top: int = 0, pseudo_weight_ignore_bottom: int = 0,
                 crop_pseudo_margins=None, imnet_feature_dist_lambda: float = 0.0,
                 imnet_feature_dist_classes=THING_CLASSES, imnet_feature_dist_scale_min_ratio: float = 0.75,
                 color_jitter_strength: float = 0.2, color_jitter_probability: float = 0.2, blur: bool = True,
                 init_cfg=None):
        super().__init__(data_preprocessor=copy.deepcopy(model.get('data_preprocessor')), init_cfg=init_cfg)
        if imnet_feature_dist_lambda > 0 and not _has_pretrained_backbone(model):
            raise UserError('imnet_feature_dist_lambda > 0 needs ImageNet weights for the backbone '
                            '(model.model.backbone.pretrained); set the lambda to 0 to train without them')
        self.alpha = alpha
        self.pseudo_threshold = pseudo_threshold
        self.pseudo_weight_ignore_top = pseudo_weight_ignore_top
        self.pseudo_weight_ignore_bottom = pseudo_weight_ignore_bottom
        self.crop_pseudo_margins = check_margins(crop_pseudo_margins)
        self.fd_lambda = imnet_feature_dist_lambda
        self.fd_classes = tuple(imnet_feature_dist_classes)
        self.fd_min_ratio = imnet_feature_dist_scale_min_ratio
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_probability = color_jitter_probability
        self.blur = blur

        # Batches reach the GPU with asynchronous copies (truly so from the data loader's pinned memory).
        self.data_preprocessor._non_blocking = True
        # Memory format of the images fed to the sub-models (torch.channels_last with the speed option).
        self.input_memory_format = torch.contiguous_format
        use_sync_free_accuracy()
        self.register_buffer('_fd_classes', torch.tensor(self.fd_classes, dtype=torch.long), persistent=False)

        self.model = MODELS.build(copy.deepcopy(model))
        self.multires = _is_multires(self.model)
        self.ema_model = MODELS.build(copy.deepcopy(model))
        freeze_teacher(self.ema_model)
        if self.fd_lambda > 0:
            self.imnet_model = MODELS.build(copy.deepcopy(model))
            freeze_teacher(self.imnet_model)
        # The Runner seeds torch before building the model: every iteration's randomness derives from this
        # seed and the iteration, so a resumed run repeats exactly what a straight run does.
        self._base_seed = torch.initial_seed()
        self._local_iter = 0

    # -- mode handling -------------------------------------------------------------------------------

    def train(self, mode: bool = True):
        super().train(mode)
        if hasattr(self, 'imnet_model'):
            self.imnet_model.eval()
        if mode:
            # The teacher stays in train mode (its BN uses the target batch statistics, as in the
            # original) but without dropout or drop-path.
            disable_teacher_dropout(self.ema_model)
        return self

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        return self.model(inputs, data_samples, mode)

    def val_step(self, data):
        return self.model.val_step(data)

    def test_step(self, data):
        return self.model.test_step(data)

    # -- the training step ---------------------------------------------------------------------------

    def train_step(self, data: dict, optim_wrapper) -> dict:
        """One DACS iteration on a batch of source (``inputs``, ``data_samples``) and target (``target_inputs``,
        ``target_data_samples``) images, ending with one optimiser step.

        Returns:
            dict[str, Tensor]: log variables (scalar tensors, not yet copied to the host).
        """
        iteration = self._iteration()
        generator = self._seed_iteration(iteration)
        src = self.data_preprocessor(dict(inputs=data['inputs'], data_samples=data['data_samples']), True)
        tgt = self.data_preprocessor(
            dict(inputs=data['target_inputs'], data_samples=data['target_data_samples']), True)
        src_img = src['inputs'].contiguous(memory_format=self.input_memory_format)
        tgt_img = tgt['inputs'].contiguous(memory_format=self.input_memory_format)
        self.update_teacher(iteration)

        log_vars = {}
        with optim_wrapper.optim_context(self):
            losses = self.source_losses(src_img, src['data_samples'])
        log_vars.update(self._backward(optim_wrapper, losses, 'src'))

        with optim_wrapper.optim_context(self):
            pl_label, pl_weight = self.pseudo_labels(tgt_img, tgt['data_samples'])
        mixed_img, mixed_label, mixed_weight = self.class_mix(
            src_img, _stack_labels(src['data_samples']), tgt_img, pl_label, pl_weight, generator)
        mixed_img = mixed_img.contiguous(memory_format=self.input_memory_format)
        with optim_wrapper.optim_context(self):
            losses = self.mixed_losses(mixed_img, mixed_label, mixed_weight)
        log_vars.update(self._backward(optim_wrapper, losses, 'mix'))
        log_vars['mix.pseudo_weight'] = pl_weight.mean()

        optim_wrapper.step()
        optim_wrapper.zero_grad()
        self._local_iter = iteration + 1
        log_vars['loss'] = log_vars['src.loss'] + log_vars['mix.loss']
        return log_vars

    def update_teacher(self, iteration: int) -> None:
        """Step 1: the EMA teacher starts as a copy of the student, then follows it with momentum."""
        if iteration == 0:
            init_teacher(self.ema_model, self.model)
        else:
            update_teacher(self.ema_model, self.model, iteration, self.alpha)

    def source_losses(self, img, data_samples) -> dict:
        """Step 2: supervised loss on the source batch and, optionally, the ImageNet feature distance."""
        if self.multires:
            # The context (LR) features: the ImageNet model's extract_feat returns the same scale.
            losses, feats = self.model.loss_with_features(img, data_samples)
        else:
            feats = self.model.extract_feat(img)
            losses = self.model._decode_head_forward_train(feats, data_samples)
        if self.fd_lambda > 0:
            with torch.no_grad():
                imnet_feats = self.imnet_model.extract_feat(img)
            # float32 distances: a bfloat16 norm over 512 channels would lose the small differences it measures.
            losses['fd.loss'] = thing_class_fd_loss(
                feats[-1].float(), imnet_feats[-1].float(), _stack_labels(data_samples),
                thing_classes=self._fd_classes, lambda_fd=self.fd_lambda, min_ratio=self.fd_min_ratio)
        return losses

    @torch.no_grad()
    def pseudo_labels(self, img, data_samples):
        """Step 3: teacher predictions on the target batch and their confidence weight.

        Returns:
            tuple[Tensor, Tensor]: labels [N, H, W] (long) and weights [N, H, W] (float).
        """
        if self.multires:
            logits = self.ema_model.encode_decode(img, [s.metainfo for s in data_samples])
        else:
            logits = self.ema_model.decode_head(self.ema_model.extract_feat(img)).float()
            logits = torch.nn.functional.interpolate(
                logits, size=img.shape[2:], mode='bilinear', align_corners=self.model.align_corners)
        label, weight = pseudo_label(logits, self.pseudo_threshold)
        weight = ignore_border(weight, self.pseudo_weight_ignore_top, self.pseudo_weight_ignore_bottom)
        if self.crop_pseudo_margins is not None:
            weight = ignore_margins(weight, self.crop_pseudo_margins)
        valid = [s.get('valid_pseudo_mask') for s in data_samples]
        if all(v is not None for v in valid):
            mask = torch.stack([torch.as_tensor(v) for v in valid]).to(weight, non_blocking=True)
            weight = apply_valid_mask(weight, mask)
        return label, weight

    @torch.no_grad()
    def class_mix(self, src_img, src_label, tgt_img, pl_label, pl_weight, generator):
        """Step 4: ClassMix of source onto target, then the strong augmentation of the mixed images.

        Returns:
            tuple[Tensor, Tensor, Tensor]: images [N, 3, H, W], labels [N, H, W], weights [N, H, W].
        """
        masks = class_mix_masks(src_label, generator=generator)
        mixed_img = mix(masks, src_img, tgt_img)
        mixed_label = mix(masks[:, 0], src_label, pl_label).long()
        mixed_weight = mix(masks[:, 0], torch.ones_like(pl_weight), pl_weight)
        preprocessor = self.data_preprocessor
        mixed_img = strong_transform(
            mixed_img, mean=preprocessor.mean.flatten(), std=preprocessor.std.flatten(), generator=generator,
            color_jitter_s=self.color_jitter_strength, color_jitter_p=self.color_jitter_probability,
            blur=self.blur)
        return mixed_img, mixed_label, mixed_weight

    def mixed_losses(self, img, label, weight) -> dict:
        """Step 5: student cross-entropy on the mixed images, weighted per pixel."""
        if self.multires:
            return self.model.loss_with_features(img, seg_label=label, seg_weight=weight)[0]
        logits = self.model.decode_head(self.model.extract_feat(img))
        return {'loss_ce': pixel_weighted_ce(logits, label, weight, align_corners=self.model.align_corners)}

    # -- helpers -------------------------------------------------------------------------------------

    def _iteration(self) -> int:
        # The Runner records the iteration in the message hub; it survives --resume, unlike a counter.
        iteration = MessageHub.get_current_instance().get_info('iter')
        return self._local_iter if iteration is None else int(iteration)

    def _seed_iteration(self, iteration: int) -> torch.Generator:
        """Seed the global generators (dropout and drop-path of the student, HRDA's detail crop) and return a CPU
        generator for the mixing and augmentation draws of this iteration."""
        seed = (self._base_seed * 1_000_003 + iteration * 7919 + get_rank()) % (2 ** 63)
        torch.manual_seed(seed)
        # On the CPU: the draws that decide control flow are read without waiting for the GPU.
        return torch.Generator().manual_seed(seed)

    def _backward(self, optim_wrapper, losses: dict, prefix: str) -> dict:
        # No finiteness check here: reading the loss would make the host wait for the GPU. The runner's
        # DeferredRuntimeInfoHook stops training on a non-finite loss before the next checkpoint.
        loss, log_vars = self.parse_losses(losses)
        if loss.requires_grad:  # a constant loss (no parameter involved) has no gradient to give
            optim_wrapper.backward(loss)
        return {f'{prefix}.{k}': v for k, v in log_vars.items()}


def _stack_labels(data_samples):
    """The ground-truth maps of a batch as one [N, H, W] long tensor."""
    return torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()


def _is_multires(model) -> bool:
    """Whether the segmentor trains and predicts at several resolutions (HRDA): it then has the HRDA paths."""
    return callable(getattr(model, 'loss_with_features', None))


def _has_pretrained_backbone(model: dict) -> bool:
    backbone = model.get('backbone', {})
    return bool(backbone.get('pretrained') or backbone.get('init_cfg'))
