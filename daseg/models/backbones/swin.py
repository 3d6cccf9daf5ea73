"""Swin Transformer whose ImageNet weights are read weights-only, converted from the file's release layout and
checked key by key.

mmseg's ``SwinTransformer(pretrained=...)`` reads the file through mmengine's ``CheckpointLoader`` (unpickling with
weights_only off) and loads whatever fits: the official Microsoft files (``layers.i.blocks.j.attn.qkv``...) have
none of its names, so every layer stays random, which the user only sees as bad results.
``CheckedSwinTransformer`` has the same modules and key names; only the loading differs: the official layout is
converted (:mod:`daseg.weights.swin_keys`, including the patch-merging channel order), relative position tables
and the absolute position embedding are resized to the model's window / pre-training image size, and a tensor
the model needs that the file lacks is a UserError naming it.
"""
from mmengine.utils import to_2tuple
from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS

from daseg.weights.encoder_keys import CheckedPretrained
from daseg.weights.swin_keys import expected_absent, resize_to, split_swin_checkpoint


@MODELS.register_module()
class CheckedSwinTransformer(CheckedPretrained, SwinTransformer):
    """mmseg's ``SwinTransformer`` with safe, strict loading of a local ImageNet weights file.

    Args:
        pretrained (str | None): Swin weights in the official or mmseg layout (e.g.
            ``pretrained/swin_base_patch4_window7_224_22k.pth``), loaded by :meth:`init_weights`. None: mmseg's
            random init.
        **kwargs: ``SwinTransformer`` arguments (``embed_dims``, ``depths``, ``num_heads``, ``window_size``,
            ``pretrain_img_size``, ``patch_size``, ``drop_path_rate``, ``out_indices``, ``use_abs_pos_embed``...).

    Inputs (B, 3, H, W); outputs one map per ``out_indices`` entry i, (B, embed_dims * 2**i, H / (4 * 2**i),
    W / (4 * 2**i)) for patch size 4.
    """

    def __init__(self, pretrained=None, **kwargs):
        super().__init__(pretrained=pretrained, **kwargs)
        size = kwargs.get('pretrain_img_size', 224)
        size = to_2tuple(size[0] if isinstance(size, (tuple, list)) and len(size) == 1 else size)
        patch = kwargs.get('patch_size', 4)
        self.pretrain_grid = (size[0] // patch, size[1] // patch)

    split_checkpoint = staticmethod(split_swin_checkpoint)

    def expected_absent(self, key):
        """Buffers, and the output norms of the stages before the last (see :mod:`daseg.weights.swin_keys`)."""
        return expected_absent(key, last_stage=len(self.stages) - 1)

    def adapt_pretrained(self, sd):
        """Relative position tables resized to the model's window, the absolute position embedding (if any) to its
        pre-training grid."""
        return resize_to(sd, self.state_dict(), self.pretrain_grid)
