"""Pixel accuracy of the decode heads without a host-device synchronisation.

mmseg's ``accuracy`` (logged as ``acc_seg`` by every decode head's loss) selects the non-ignored pixels by boolean
indexing, whose output size the host must read from the GPU: two synchronisations per loss call, six per DACS
step with HRDA. :func:`accuracy` computes the same value with masks; the heads of this package use it through
:class:`~daseg.models.decode_heads.label_loss.LabelLossMixin`.
"""
import torch


def accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
    """mmseg's ``accuracy`` (same arguments, same values up to float rounding) computed with masks.

    Args:
        pred (Tensor): scores [N, C, ...].
        target (Tensor): labels [N, ...] long.
        topk (int | tuple[int]): a prediction is correct when the label is among its ``k`` best classes.
        thresh (float, optional): scores not above this count as wrong.
        ignore_index (int, optional): label whose pixels are left out of the ratio.

    Returns:
        Tensor | tuple[Tensor]: accuracy in percent, shape [1], one per ``topk`` entry when a tuple is given.
    """
    single = isinstance(topk, int)
    topk = (topk,) if single else tuple(topk)
    if pred.size(0) == 0:
        accs = [pred.new_tensor(0.)] * len(topk)
        return accs[0] if single else accs
    if pred.ndim != target.ndim + 1 or pred.size(0) != target.size(0) or max(topk) > pred.size(1):
        raise ValueError(f'accuracy: scores {tuple(pred.shape)} do not fit labels {tuple(target.shape)} '
                         f'and topk {topk}')
    values, labels = pred.topk(max(topk), dim=1)
    correct = labels.eq(target.unsqueeze(1))
    if thresh is not None:
        correct = correct & (values > thresh)
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    correct = correct & valid.unsqueeze(1)
    eps = torch.finfo(torch.float32).eps
    total = valid.sum().float() + eps
    accs = [(correct[:, :k].sum().float().reshape(1) + eps) * 100.0 / total for k in topk]
    return accs[0] if single else accs
