"""tools/export.py and daseg.apis.export: the exported TorchScript (and, where ONNX Runtime is installed, ONNX)
model computes the PyTorch model's logits, for whole-image, sliding-window and HRDA inference."""
import json

import cv2
import pytest
import torch

from daseg.apis import LogitsModel, export_torchscript, init_segmentor, sample_input
from daseg.apis.export import RELATIVE_TOLERANCE, run_onnx
from daseg.apis import run_export
from daseg.apis.inference import MODES
from daseg.apis.run_export import export_model
from daseg.weights import EVALUABLE
from entry_points import load_script
from daseg.errors import UserError
from hrda_models import build_tiny_hrda
from infer_models import SEGMENTOR, metas, normalise, street_image, write_setup

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('export')
    return dict(write_setup(tmp), tmp=tmp)


def _close(actual, expected):
    tolerance = RELATIVE_TOLERANCE * max(float(expected.abs().max()), 1.0)
    assert actual.shape == expected.shape
    assert float((actual - expected).abs().max()) <= tolerance


def test_cli_torchscript_equals_the_student(setup):
    image = street_image(40, 90)
    image_path = setup['tmp'] / 'sample.png'
    cv2.imwrite(str(image_path), image)
    out = setup['tmp'] / 'exported'
    # Through the script's options: the same names as export_model's.
    record = load_script('tools/export').main([setup['config'], setup['checkpoint'], '--shape', '64', '128',
                                               '--out', str(out), '--formats', 'torchscript', '--image',
                                               str(image_path)])
    assert record['checks']['torchscript']['ok']
    saved = json.loads((out / 'export.json').read_text())
    assert saved['input']['shape'] == [1, 3, 64, 128] and saved['output']['shape'] == [1, 19, 64, 128]
    preprocessor = SEGMENTOR['data_preprocessor']
    assert saved['input']['mean'] == pytest.approx(preprocessor['mean'])
    assert saved['input']['std'] == pytest.approx(preprocessor['std'])
    assert len(saved['classes']) == 19 and saved['test_cfg']['mode'] == 'whole'
    # The exported file on an input normalised by hand equals the student's own logits (not the teacher's).
    inputs = normalise(cv2.resize(image, (128, 64), interpolation=cv2.INTER_LINEAR))
    with torch.no_grad():
        exported = torch.jit.load(str(out / 'model.pt'))(inputs)
        _close(exported, setup['model'].encode_decode(inputs, metas(inputs)))


def _slide_and_hrda(setup):
    """Sliding windows of 32x64 at stride 32 (two overlapping windows on a 32x96 input), and HRDA on 64x64 (its
    detail branch by 32x32 windows at stride 16)."""
    slide = init_segmentor(setup['config'], setup['checkpoint'], mode='slide', crop_size=(32, 64), stride=(32, 32))
    torch.manual_seed(0)
    return {'slide': (slide, (32, 96)), 'hrda': (build_tiny_hrda().eval(), (64, 64))}


def test_slide_and_hrda_torchscript(setup):
    for name, (segmentor, shape) in _slide_and_hrda(setup).items():
        path = str(setup['tmp'] / f'{name}.pt')
        sample = sample_input(segmentor, shape)
        export_torchscript(LogitsModel(segmentor), sample, path)
        exported = torch.jit.load(path)
        # The sample it was traced on, and another image of that size: the graph does not hold the sample. The
        # graph runs as saved (the profiling executor's optimising runs cost seconds and change nothing on a CPU).
        for image in (sample, sample_input(segmentor, shape, seed=1)):
            with torch.jit.optimized_execution(False), torch.no_grad():
                _close(exported(image), segmentor.inference(image, metas(image)))


def test_cli_onnx_equals_the_student(setup):
    pytest.importorskip('onnxruntime')
    out = setup['tmp'] / 'exported_onnx'
    record = export_model(setup['config'], setup['checkpoint'], str(out), (64, 128), formats=['onnx'])
    assert record['checks']['onnx']['ok']
    sample = sample_input(setup['model'], (64, 128), seed=1)
    with torch.no_grad():
        _close(run_onnx(str(out / 'model.onnx'), sample), setup['model'].encode_decode(sample, metas(sample)))


def test_onnx_without_the_extra_is_one_line(monkeypatch):
    monkeypatch.setattr(run_export, 'onnx_available', lambda: False)
    assert run_export.resolve_formats() == ['torchscript']
    with pytest.raises(UserError, match='needs the onnx package'):
        run_export.resolve_formats(['onnx'])


def test_script_choices_are_the_package_s():
    script = load_script('tools/export')
    assert script.SUB_MODELS == EVALUABLE and script.MODES == MODES
    assert script.FORMATS == tuple(run_export.FORMATS)
