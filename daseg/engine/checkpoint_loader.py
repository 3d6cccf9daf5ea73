"""mmengine's reader of local checkpoint files, replaced by this project's weights-only one.

onedl-mmengine's ``load_from_local`` tries ``torch.load(weights_only=True)`` and, when the file needs code to
unpickle, logs a warning and loads it again with ``weights_only=False``: such a file runs its code. Everything
that reads a local file through mmengine (``mmseg.apis.init_model``, ``MMSegInferencer``, ``Pretrained``
initialisers, ``load_checkpoint``) goes through :func:`daseg.weights.load_checkpoint_file` instead, which refuses
such a file with one line.
"""
import os.path as osp

from mmengine.runner.checkpoint import CheckpointLoader

from ..weights import load_checkpoint_file


# Named as mmengine's: its log line reads "Loads checkpoint by local backend".
@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename, map_location):
    """Read a local checkpoint weights-only (see :func:`daseg.weights.load_checkpoint_file`)."""
    return load_checkpoint_file(osp.expanduser(filename), map_location=map_location)
