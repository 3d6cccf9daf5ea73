"""The checkpoints given to merge.py: their identity (sha256), their sub-models, and the architecture check."""
import hashlib
import os.path as osp

import torch

from ..weights import load_checkpoint_file, sub_models
from ..errors import UserError


def sha256_of(path, chunk=1 << 22):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def load_input(path):
    """The sub-models of a checkpoint, memory-mapped (only the tensors used are read).

    Returns:
        tuple[dict[str, dict[str, Tensor]], bool]: see :func:`daseg.weights.sub_models`.
    """
    ckpt = load_checkpoint_file(path, mmap=True)
    try:
        return sub_models(ckpt)
    except UserError as exc:
        raise UserError(f'{path}: {exc}') from None


def layout(groups):
    """dict[str, dict[str, tuple]]: sub-model -> key -> shape."""
    return {name: {k: tuple(v.shape) for k, v in sd.items()} for name, sd in groups.items()}


def check_same_architecture(ref_path, ref_layout, path, other_layout, names):
    """Refuse ``path`` when one of the sub-models ``names`` differs from the first input's.

    Raises:
        UserError: naming the first key that is missing on one side or has another shape.
    """
    for name in names:
        ref, other = ref_layout[name], other_layout.get(name)
        if other is None:
            raise UserError(f'{path} has no {name} weights, {ref_path} has')
        for key, shape in ref.items():
            if key not in other:
                raise UserError(f'{path} does not match {ref_path} (another architecture?): {name}.{key} is '
                                f'missing in {path}')
            if other[key] != shape:
                raise UserError(f'{path} does not match {ref_path} (another architecture?): {name}.{key} has '
                                f'shape {other[key]} in {path} and {shape} in {ref_path}')
        extra = [k for k in other if k not in ref]
        if extra:
            raise UserError(f'{path} does not match {ref_path} (another architecture?): {name}.{extra[0]} is '
                            f'missing in {ref_path}')


def state_digest(state_dict):
    """Hex sha256 over the keys, dtypes, shapes and bytes of a state dict: equal digests, identical tensors."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f'{key}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_distinct(paths, hashes=None):
    """Refuse an input given twice: the same file (by its real path) or, with ``hashes``, the same content.

    Args:
        paths (list[str]): the inputs.
        hashes (list[str | None] | None): their sha256, when known.
    """
    seen = {}
    for k, path in enumerate(paths):
        ids = [('file', osp.realpath(path))] + ([('content', hashes[k])] if hashes and hashes[k] else [])
        for what, ident in ids:
            if (what, ident) in seen:
                same = 'is the same file as' if what == 'file' else 'has the same content as'
                raise UserError(f'{path} {same} {seen[what, ident]}: each input counts once; pass '
                                '--allow-duplicates to give it more weight')
            seen[what, ident] = path
