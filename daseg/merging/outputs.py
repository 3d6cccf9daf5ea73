"""The files merge.py writes: their names and the checks made before any work.

One writer per output needs no lock here: the checkpoint is written under a temporary name and given its name
with a no-replace link (daseg.atomic), so of two merges to one --out one wins and the other stops with one line.
"""
import os
import os.path as osp

from ..errors import UserError


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
