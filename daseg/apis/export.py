"""Export a segmentor to TorchScript and ONNX, and check that the exported model computes what PyTorch does.

The exported model is a function of one normalised image batch ``[N, 3, H, W]`` (float32, RGB, minus the mean,
over the std of the config's data preprocessor) returning the logits ``[N, C, H, W]``, by the segmentor's
inference mode: whole image, sliding window (mmseg's ``test_cfg.mode='slide'``) or HRDA's two resolutions with
the detail branch by windows. It is traced at one input size: the windows, resizes and crops of that size are
fixed in the graph, so export once per input size.
"""
import contextlib
import importlib.util
import io
import warnings

import cv2
import numpy as np
import torch
from mmseg.structures import SegDataSample

from ..atomic import atomic_write
from ..errors import UserError

# |exported - PyTorch| must stay within this share of the largest |logit| (float32 round-off of reordered sums).
RELATIVE_TOLERANCE = 1e-4
ONNX_OPSET = 17


class LogitsModel(torch.nn.Module):
    """A segmentor as a function of a normalised image batch: logits at the input size, by its inference mode.

    Args:
        segmentor (mmseg BaseSegmentor): in eval mode.
    """

    def __init__(self, segmentor):
        super().__init__()
        self.segmentor = segmentor

    def forward(self, inputs):
        size = tuple(int(s) for s in inputs.shape[2:])
        metas = [dict(ori_shape=size, img_shape=size, pad_shape=size, padding_size=[0, 0, 0, 0])
                 for _ in range(int(inputs.shape[0]))]
        return self.segmentor.inference(inputs, metas)


def sample_input(segmentor, shape, image=None, seed=0):
    """A normalised [1, 3, H, W] input for tracing and checking.

    Args:
        segmentor: its ``data_preprocessor`` normalises.
        shape (tuple[int, int]): (H, W).
        image (np.ndarray | None): (h, w, 3) uint8 BGR, resized to ``shape``; default random pixels of ``seed``.
    """
    if image is None:
        pixels = torch.randint(0, 256, (3, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    else:
        resized = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        pixels = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
    data = segmentor.data_preprocessor(dict(inputs=[pixels], data_samples=[SegDataSample()]), False)
    return data['inputs']


@contextlib.contextmanager
def _quiet():
    """Tracing warns about every shape read as a constant, which is the documented fixed-size behaviour; torch
    calls its TorchScript-based ONNX exporter legacy, the one that needs no onnxscript."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='You are using the legacy TorchScript-based ONNX export')
        # The exporter's note that strided slices (none of the windows here) are not folded.
        warnings.filterwarnings('ignore', message='Constant folding - Only steps=1')
        yield


def export_torchscript(model, sample, path):
    """Trace ``model`` (a :class:`LogitsModel`) on ``sample`` and save it to ``path`` (atomically)."""
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, sample, check_trace=False)
    atomic_write(path, lambda f: torch.jit.save(traced, f))


def export_onnx(model, sample, path, opset=ONNX_OPSET):
    """Export ``model`` to ONNX with torch's TorchScript-based exporter (no onnxscript needed) at ``sample``'s
    size; input ``image``, output ``logits``."""
    if not onnx_available():
        raise UserError('ONNX export needs the onnx package: pip install -e ".[export]"')
    buffer = io.BytesIO()
    with _quiet(), torch.no_grad():
        torch.onnx.export(model, (sample,), buffer, dynamo=False, input_names=['image'], output_names=['logits'],
                          opset_version=opset)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def run_torchscript(path, sample):
    """The logits of a saved TorchScript model on ``sample``."""
    with torch.no_grad():
        return torch.jit.load(path, map_location=sample.device)(sample)


def onnx_available():
    return importlib.util.find_spec('onnx') is not None


def onnxruntime_available():
    return importlib.util.find_spec('onnxruntime') is not None


def run_onnx(path, sample):
    """The logits of an ONNX file on ``sample`` by ONNX Runtime on the CPU."""
    import onnxruntime  # noqa: PLC0415  (optional: the export extra)
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    return torch.from_numpy(session.run(None, {'image': sample.cpu().numpy()})[0])


def compare(reference, output):
    """How far an exported model's logits are from PyTorch's.

    Returns:
        dict: ``max_abs_diff``, ``tolerance`` (:data:`RELATIVE_TOLERANCE` times the largest |logit|, at least
        that), ``same_class`` (share of pixels with the same arg-max) and ``ok``.
    """
    reference, output = reference.float().cpu(), output.float().cpu()
    if reference.shape != output.shape:
        return dict(max_abs_diff=float('inf'), tolerance=0.0, same_class=0.0, ok=False)
    diff = float((reference - output).abs().max())
    tolerance = RELATIVE_TOLERANCE * max(float(reference.abs().max()), 1.0)
    same = float((reference.argmax(1) == output.argmax(1)).float().mean())
    return dict(max_abs_diff=diff, tolerance=tolerance, same_class=same, ok=diff <= tolerance)
