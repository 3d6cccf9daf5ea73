"""Using trained models: segmenting one's own images and videos, and exporting to TorchScript and ONNX.

    from daseg.apis import init_segmentor, segment
    model = init_segmentor(CONFIG, CHECKPOINT)          # the student of a UDA checkpoint unless part='teacher'
    labels = segment(model, ['street.png'])             # [(H, W) uint8 trainIds]
"""
from .export import LogitsModel, compare, export_onnx, export_torchscript, sample_input
from .inference import init_segmentor, read_image, segment
from .overlay import blend, legend, overlay
from .sources import find_sources

__all__ = ['init_segmentor', 'segment', 'read_image', 'LogitsModel', 'sample_input', 'export_torchscript',
           'export_onnx', 'compare', 'overlay', 'blend', 'legend', 'find_sources']
