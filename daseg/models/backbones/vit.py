"""BEiT and MAE (ViT-B/16 and the like) whose ImageNet weights are read weights-only, converted from the file's
release layout and checked key by key.

mmseg's ``BEiT`` / ``MAE`` with ``pretrained=...`` read the file through mmengine (unpickling with weights_only
off) and load whatever fits, which for the official files (``blocks.i.norm1``, ``mlp.fc1``...) is almost nothing.
``CheckedBEiT`` / ``CheckedMAE`` have the same modules and key names; only the loading differs: the file is
converted (:mod:`daseg.weights.vit_keys`), relative position tables are resized from the pre-training window
(14 x 14 at 224) to the model's (32 x 32 at 512) by mmseg's own ``resize_rel_pos_embed``, MAE's absolute
position embedding by mmseg's ``resize_abs_pos_embed``, and a tensor the model needs that the file lacks is a
UserError naming it.

mmseg's ``resize_rel_pos_embed`` interpolates with ``scipy.interpolate.interp2d``, which SciPy 1.14 removed (it
raises NotImplementedError): the interpolation step it calls, ``_geometric_sequence_interpolation``, is replaced
here by the same geometric grid read with ``RectBivariateSpline`` (:func:`daseg.weights.vit_keys.geometric_resize`).
"""
import re

from mmseg.models.backbones import BEiT, MAE
from mmseg.registry import MODELS

from daseg.errors import UserError
from daseg.weights.encoder_keys import CheckedPretrained
from daseg.weights.vit_keys import geometric_resize, split_beit_checkpoint, split_mae_checkpoint

# Never in a classification file: buffers, and the final norm when the file pools with ``fc_norm`` instead.
_ABSENT = re.compile(r'(.*\.relative_position_index|ln1\.(weight|bias))$')


class _CheckedViT(CheckedPretrained):
    """Loading shared by :class:`CheckedBEiT` and :class:`CheckedMAE` (placed before mmseg's class)."""

    def expected_absent(self, key):
        return bool(_ABSENT.match(key))

    def _geometric_sequence_interpolation(self, src_size, dst_size, sequence, num):
        """mmseg's hook inside ``resize_rel_pos_embed`` ([src^2, num] -> [dst^2, num]), without interp2d."""
        return geometric_resize(sequence, src_size, dst_size)

    def _square_grid(self, what):
        if self.patch_shape[0] != self.patch_shape[1]:
            raise UserError(f'{type(self).__name__}: the {what} of the pretrained file can only be resized to a '
                            f'square grid of patches; img_size {tuple(self.img_size)} gives {self.patch_shape}')

    def adapt_pretrained(self, sd):
        """Relative position tables of another window resized to the model's (by mmseg's resize_rel_pos_embed)."""
        own = self.state_dict()
        tables = {k: v for k, v in sd.items() if k.endswith('relative_position_bias_table') and k in own
                  and v.shape != own[k].shape and v.shape[1] == own[k].shape[1]}
        if not tables:
            return sd
        self._square_grid('relative position tables')
        return {**sd, **self.resize_rel_pos_embed(tables)}


@MODELS.register_module()
class CheckedBEiT(_CheckedViT, BEiT):
    """mmseg's ``BEiT`` with safe, strict loading of a local BEiT weights file.

    Args:
        pretrained (str | None): BEiT weights in the official or mmseg layout (e.g.
            ``pretrained/beit_base_patch16_224_pt22k_ft22k.pth``), loaded by :meth:`init_weights`. None: mmseg's
            random init.
        **kwargs: ``BEiT`` arguments (``img_size``, ``patch_size``, ``embed_dims``, ``num_layers``, ``num_heads``,
            ``out_indices``, ``qv_bias``, ``norm_cfg``, ``init_values``, ``drop_path_rate``...).

    Inputs (B, 3, H, W); outputs one map (B, embed_dims, H / patch_size, W / patch_size) per ``out_indices``.
    """

    split_checkpoint = staticmethod(split_beit_checkpoint)


@MODELS.register_module()
class CheckedMAE(_CheckedViT, MAE):
    """mmseg's ``MAE`` (a ViT with layer scale and relative position tables that start at zero) with safe, strict
    loading of a local MAE / ViT weights file.

    A pre-training file has neither layer scale nor relative position bias: its layer scales load as ones (see
    :mod:`daseg.weights.vit_keys`) and the tables keep their zeros, so the loaded encoder computes the
    pretrained ViT's function.

    Args:
        pretrained (str | None): MAE / ViT weights in the official (``mae_pretrain_vit_base.pth``) or mmseg layout,
            loaded by :meth:`init_weights`. None: mmseg's random init.
        **kwargs: ``MAE`` arguments (``img_size``, ``patch_size``, ``embed_dims``, ``num_layers``, ``num_heads``,
            ``out_indices``, ``norm_cfg``, ``init_values``, ``drop_path_rate``...).

    Inputs (B, 3, H, W); outputs one map (B, embed_dims, H / patch_size, W / patch_size) per ``out_indices``.
    """

    split_checkpoint = staticmethod(split_mae_checkpoint)

    def expected_absent(self, key):
        return super().expected_absent(key) or key.endswith('relative_position_bias_table')

    def adapt_pretrained(self, sd):
        """As for BEiT, and the absolute position embedding resized to the model's grid (by mmseg's
        resize_abs_pos_embed)."""
        sd = super().adapt_pretrained(sd)
        if 'pos_embed' in sd and sd['pos_embed'].shape != self.pos_embed.shape:
            self._square_grid('position embedding')
            sd = self.resize_abs_pos_embed(dict(sd))
        return sd
