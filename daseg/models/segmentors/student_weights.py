"""What a plain segmentor loads from any checkpoint of this project: the student of a UDA or merged checkpoint.

mmengine's ``load_checkpoint`` (called by ``mmseg.apis.init_model`` and ``MMSegInferencer``) loads with
``strict=False`` and only warns about missing keys, so a UDA checkpoint (``model.*``, ``ema_model.*``, ...) in a
plain segmentor would predict with random weights. :class:`~.uda_encoder_decoder.UDAEncoderDecoder` passes every
state dict it is given whole through :func:`take_student` first.
"""
from mmengine.logging import print_log

from ...errors import UserError
from ...weights import BY_NAME, SUB_MODELS, check_fits, sub_models

_STUDENT = BY_NAME['student']


def take_student(own, state_dict, what, check=True):
    """Replace a UDA checkpoint's weights in ``state_dict`` by those of its student, in place.

    Args:
        own (dict[str, Tensor]): the segmentor's state dict.
        state_dict (dict[str, Tensor]): the weights being loaded; a UDA checkpoint's (sub-model prefixes of
            :data:`daseg.weights.SUB_MODELS`), a plain segmentor's, or a released one (mmseg 0.x key names).
        what (str): the segmentor, for the messages.
        check (bool): refuse weights whose keys or shapes do not fit ``own`` (``num_batches_tracked`` may lack).

    Raises:
        UserError: a UDA checkpoint without a student, or (``check``) weights that do not fit.
    """
    if not state_dict and not check:
        return
    groups, is_uda = sub_models(dict(state_dict))
    if is_uda:
        if _STUDENT.attr not in groups:
            held = ', '.join(sub.prefix + '*' for sub in SUB_MODELS if sub.attr in groups)
            raise UserError(f'the UDA checkpoint has no student weights ({_STUDENT.prefix}*) for {what}; it holds '
                            f'{held}')
        left = ', '.join(f'{sub.name} ({sub.prefix}*)' for sub in SUB_MODELS
                         if sub.attr in groups and sub is not _STUDENT)
        print_log(f'UDA checkpoint: {what} takes its student ({_STUDENT.prefix}*)'
                  + (f', not {left}' if left else ''), logger='current')
    weights = groups[_STUDENT.attr]
    if check:
        check_fits(own, weights, f'the checkpoint does not fit {what} (another architecture?)',
                   optional_suffix='num_batches_tracked')
    state_dict.clear()
    state_dict.update(weights)
