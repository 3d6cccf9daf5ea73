"""Broadcasting many tensors at once (a model's buffers; DDP averages the gradients).

Tensors are packed into flat buckets (one per dtype and device, at most ``bucket_mb`` each), so a model's hundreds
of buffers take a handful of collective calls instead of one each.
"""
import torch
import torch.distributed as dist

BUCKET_MB = 64


def _buckets(tensors, bucket_mb=BUCKET_MB):
    """Group tensors by (dtype, device) into lists of at most ``bucket_mb`` MiB each (a larger tensor alone)."""
    groups, limit = {}, bucket_mb * 2 ** 20
    for tensor in tensors:
        buckets = groups.setdefault((tensor.dtype, tensor.device), [])
        size = tensor.numel() * tensor.element_size()
        if not buckets or (buckets[-1][1] and buckets[-1][1] + size > limit):
            buckets.append([[], 0])
        buckets[-1][0].append(tensor)
        buckets[-1][1] += size
    return [bucket for buckets in groups.values() for bucket, _ in buckets]


def _apply_flat(tensors, collective, bucket_mb=BUCKET_MB):
    """Run ``collective(flat)`` on each bucket's concatenation and copy the result back into the tensors."""
    for bucket in _buckets(tensors, bucket_mb):
        flat = torch.cat([t.reshape(-1) for t in bucket])
        collective(flat)
        for tensor, part in zip(bucket, flat.split([t.numel() for t in bucket])):
            tensor.copy_(part.view_as(tensor))


@torch.no_grad()
def broadcast_tensors(tensors, src: int = 0, group=None, bucket_mb=BUCKET_MB) -> None:
    """Copy the values of ``tensors`` on process ``src`` into the same tensors on all processes of ``group``.

    Args:
        tensors (Sequence[Tensor]): same shapes, dtypes and order on every process.
        src (int): the global rank whose values everybody receives.
        group (ProcessGroup, optional): the default group when None.
        bucket_mb (int): largest flat buffer per collective call, MiB.
    """
    tensors = list(tensors)
    if dist.get_world_size(group) > 1 and tensors:
        _apply_flat(tensors, lambda flat: dist.broadcast(flat, src=src, group=group), bucket_mb)

