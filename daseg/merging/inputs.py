"""The checkpoints given to merge.py: their identity (sha256), their sub-models, and the architecture check."""
import hashlib

from ..checkpoint import load_checkpoint_file, sub_models
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
        tuple[dict[str, dict[str, Tensor]], bool]: see :func:`daseg.checkpoint.sub_models`.
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
