"""daseg: domain-adaptive semantic segmentation and multi-target model merging on mmseg 1.x.

Importing the package registers its datasets, transforms, models, metrics and hooks in mmseg's registries.
"""
import contextlib
import io
import warnings

# mmcv without compiled ops warns on import about a deformable-attention op no model here uses; the
# warning would stand before every one-line error message of our entry points.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
# The original recipes average the cross-entropy over all pixels, ignored ones included (mmseg 0.x); that
# is deliberate here, so mmseg's advice to average over non-ignored pixels only is noise.
warnings.filterwarnings('ignore', message='Default ``avg_non_ignore`` is False')

# mmseg announces on stdout that an optional OneDL integration is absent; keep our console output clean.
with contextlib.redirect_stdout(io.StringIO()):
    import mmseg.datasets  # noqa: E402,F401

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registration side effects)

__version__ = '0.1.0'
