"""Exporting a trained model to TorchScript and ONNX, checked against PyTorch on a sample (tools/export.py).

    export_model(CONFIG, CHECKPOINT, 'exported', shape=(512, 1024))

writes, under the output folder (new or empty), ``model.pt`` (TorchScript), ``model.onnx`` and ``export.json``
(input size, normalisation, classes, palette, inference mode and the checks). Each exported model is run on a
sample (an image resized to the shape, or random pixels) and its logits compared with PyTorch's; a difference
over the tolerance is an error. ONNX needs the export extra (``pip install -e ".[export]"``: onnx, and ONNX
Runtime for the check): without onnx only TorchScript is written, without ONNX Runtime the ONNX file is unchecked.
"""
import json
import os.path as osp
import sys

import torch

from ..atomic import atomic_write_text
from ..errors import UserError
from ..locks import fresh_output_folder
from .export import (LogitsModel, compare, export_onnx, export_torchscript, onnx_available, onnxruntime_available,
                     run_onnx, run_torchscript, sample_input)
from .inference import init_segmentor, read_image

FORMATS = {'torchscript': 'model.pt', 'onnx': 'model.onnx'}


def resolve_formats(formats=None):
    """The formats to write: default TorchScript, and ONNX when the onnx package is installed."""
    if formats is None:
        return ['torchscript'] + (['onnx'] if onnx_available() else [])
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f'unknown export format {", ".join(unknown)}; choose among {", ".join(FORMATS)}')
    if 'onnx' in formats and not onnx_available():
        raise UserError('--formats onnx needs the onnx package: pip install -e ".[export]"')
    return list(formats)


def _check(name, path, reference, output):
    result = compare(reference, output)
    print(f'{name}: {path}: max |exported - PyTorch| = {result["max_abs_diff"]:.3g} (tolerance '
          f'{result["tolerance"]:.3g}), same class at {100 * result["same_class"]:.2f} % of pixels', flush=True)
    if not result['ok']:
        raise UserError(f'{path} differs from the PyTorch model by {result["max_abs_diff"]:.3g}, more than the '
                        f'tolerance {result["tolerance"]:.3g}')
    return result


def export_model(config, checkpoint, out, shape, formats=None, image=None, which='student', mode=None,
                 crop_size=None, stride=None, cfg_options=None):
    """Export and check (see the module docstring).

    Args:
        config, checkpoint, which, mode, crop_size, stride, cfg_options: see :func:`.inference.init_segmentor`.
        out (str): the output folder, new or empty.
        shape (Sequence[int]): (H, W) of the exported model's input.
        formats (Sequence[str] | None): keys of :data:`FORMATS`; default see :func:`resolve_formats`.
        image (str | None): the sample image file; default random pixels.

    Returns:
        dict: the ``export.json`` record.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise UserError(f'--shape must be two positive integers (height width), got {list(shape)}')
    formats = resolve_formats(formats)
    picture = read_image(image) if image else None
    with fresh_output_folder(out, '--out', 'export.py'):
        segmentor = init_segmentor(config, checkpoint, which, 'cpu', mode, crop_size, stride, cfg_options)
        model = LogitsModel(segmentor).eval()
        sample = sample_input(segmentor, shape, picture)
        with torch.no_grad():
            reference = model(sample)
        preprocessor = segmentor.data_preprocessor
        record = {'input': {'name': 'image', 'shape': [1, 3, *shape], 'channels': 'RGB',
                            'mean': preprocessor.mean.flatten().tolist(), 'std': preprocessor.std.flatten().tolist()},
                  'output': {'name': 'logits', 'shape': list(reference.shape)},
                  'test_cfg': dict(segmentor.test_cfg), 'segmentor': type(segmentor).__name__,
                  'checkpoint': checkpoint, 'which': which, **segmentor.dataset_meta, 'checks': {}}
        for name in formats:
            path = osp.join(out, FORMATS[name])
            if name == 'torchscript':
                export_torchscript(model, sample, path)
                record['checks'][name] = _check(name, path, reference, run_torchscript(path, sample))
            else:
                export_onnx(model, sample, path)
                if onnxruntime_available():
                    record['checks'][name] = _check(name, path, reference, run_onnx(path, sample))
                else:
                    print(f'{name}: {path}: not checked, ONNX Runtime is not installed (pip install -e '
                          '".[export]")', file=sys.stderr, flush=True)
        atomic_write_text(osp.join(out, 'export.json'), json.dumps(record, indent=2, default=str) + '\n')
    return record
