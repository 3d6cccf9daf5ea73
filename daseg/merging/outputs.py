"""The files merge.py writes: their names, the checks made before any work, and the classes they record.

One writer per output needs no lock here: the checkpoint is written under a temporary name and given its name
with a no-replace link (daseg.atomic), so of two merges to one --out one wins and the other stops with one line.
"""
import os
import os.path as osp

from ..errors import UserError
from ..weights import load_checkpoint_file


def output_paths(out, n, sep_heads):
    """``out``, or with separate heads ``<out stem>_head<k>.pth`` for k = 1..N."""
    if not sep_heads:
        return [out]
    stem, ext = osp.splitext(out)
    return [f'{stem}_head{k}{ext or ".pth"}' for k in range(1, n + 1)]


def check_outputs(paths, force):
    """Refuse outputs that are folders, lie in a missing folder, or exist (without ``force``)."""
    for path in paths:
        if osp.isdir(path):
            raise UserError(f'--out {path} is a folder; name the output file, e.g. {osp.join(path, "merged.pth")}')
        folder = osp.dirname(osp.abspath(path))
        if not osp.isdir(folder):
            raise UserError(f'output folder does not exist: {folder}')
        if not os.access(folder, os.W_OK):
            raise UserError(f'output folder is not writable: {folder}')
        if osp.exists(path) and not force:
            raise UserError(f'{path} exists; pass --force to replace it')


def _classes_and_palette(meta):
    """``{'classes', 'palette'}`` of a checkpoint's meta: mmengine's ``dataset_meta`` or mmseg 0.x's
    ``CLASSES`` / ``PALETTE``; None when it records no classes."""
    meta = meta if isinstance(meta, dict) else {}
    found = meta.get('dataset_meta') if isinstance(meta.get('dataset_meta'), dict) else {}
    classes, palette = found.get('classes', meta.get('CLASSES')), found.get('palette', meta.get('PALETTE'))
    if classes is None:
        return None
    return {'classes': [str(c) for c in classes],
            'palette': None if palette is None else [[int(v) for v in color] for color in palette]}


def dataset_meta(paths):
    """The classes and palette of the inputs, for the merged checkpoint's ``meta.dataset_meta`` (mmseg's
    ``init_model`` and ``MMSegInferencer`` read them): those of the first input that records them.

    Returns:
        dict | None: ``{'classes': [...], 'palette': [[r, g, b], ...]}``; None when no input records classes.

    Raises:
        UserError: two inputs record different classes (models of different label spaces do not merge).
    """
    first, first_path = None, None
    for path in paths:
        found = _classes_and_palette(load_checkpoint_file(path, mmap=True).get('meta'))
        if found is None:
            continue
        if first is None:
            first, first_path = found, path
        elif found['classes'] != first['classes']:
            raise UserError(f'{path} records {len(found["classes"])} classes ({", ".join(found["classes"])}), '
                            f'{first_path} {len(first["classes"])} ({", ".join(first["classes"])}); merged models '
                            'must share one label space')
    return first
