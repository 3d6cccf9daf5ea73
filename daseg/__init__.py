"""daseg: domain-adaptive semantic segmentation and multi-target model merging on mmseg 1.x.

Importing the package registers its datasets, transforms, models, metrics and hooks in mmseg's registries.
"""
import contextlib
import io
import warnings

# mmcv without compiled ops warns on import about a deformable-attention op no model here uses; the
# warning would stand before every one-line error message of our entry points.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

# mmseg announces on stdout that an optional OneDL integration is absent; keep our console output clean.
with contextlib.redirect_stdout(io.StringIO()):
    import mmseg.datasets  # noqa: E402,F401

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration side effects)

__version__ = '0.1.0'
