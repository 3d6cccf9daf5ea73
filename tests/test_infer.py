"""tools/infer.py and daseg.apis: predictions on a 1024x2048 image, a folder, a glob and a generated video equal
the prediction computed by hand; overlays, legends, the student/teacher choice, sliding windows and the errors."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from daseg.apis import init_segmentor, segment
from daseg.apis import run_inference
from daseg.apis.inference import MODES
from daseg.apis.outputs import VIDEO_CODECS
from daseg.apis.run_inference import infer_files
from daseg.weights import EVALUABLE
from entry_points import load_script
from daseg.classes import PALETTE
from daseg.errors import UserError
from infer_models import (TEACHER_CLASS, expected_labels, metas, network_size, normalise, street_image,
                          write_setup)

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('infer')
    return dict(write_setup(tmp), tmp=tmp)


def _png(path):
    return np.asarray(Image.open(path))


def _run(setup, inputs, out, **options):
    return infer_files(setup['config'], setup['checkpoint'], [str(p) for p in inputs], str(out), **options)


def test_full_resolution_image_prediction_overlay_and_legend(setup):
    image = street_image(1024, 2048)
    path = setup['tmp'] / 'frankfurt_000000_000294_leftImg8bit.png'
    cv2.imwrite(str(path), image)
    out = setup['tmp'] / 'out_full'
    assert _run(setup, [path], out)['images'] == 1
    stem = path.stem
    pred = _png(out / 'pred' / f'{stem}.png')
    expected = expected_labels(setup['model'], image)
    assert pred.dtype == np.uint8 and pred.shape == (1024, 2048)
    assert len(np.unique(expected)) >= 3  # a prediction varied enough for the comparison to mean something
    np.testing.assert_array_equal(pred, expected)

    overlay = _png(out / 'overlay' / f'{stem}.png')
    assert overlay.shape[1] == 2048 and overlay.shape[0] > 1024
    colours = np.array(PALETTE, np.uint8)[expected]
    blended = np.rint((image[..., ::-1].astype(np.float64) + colours) / 2)
    np.testing.assert_array_equal(overlay[:1024], blended)
    legend = {tuple(c) for c in overlay[1024:].reshape(-1, 3)}
    assert set(PALETTE) <= legend  # a swatch of every class, also of those not predicted


def test_folder_glob_batches_of_mixed_sizes_and_teacher(setup):
    folder = setup['tmp'] / 'folder'
    (folder / 'sub').mkdir(parents=True)
    images = {'a': street_image(32, 64, 1), 'b': street_image(32, 64, 2), 'c': street_image(48, 80, 3)}
    for name, image in images.items():
        cv2.imwrite(str(folder / ('sub' if name == 'c' else '') / f'{name}.png'), image)
    (folder / 'notes.txt').write_text('not an image')
    out = setup['tmp'] / 'out_folder'
    assert _run(setup, [folder], out, batch_size=3, outputs=['pred'])['images'] == 3
    for name, image in images.items():
        np.testing.assert_array_equal(_png(out / 'pred' / f'{name}.png'), expected_labels(setup['model'], image))
    assert not (out / 'overlay').exists()

    # Through the script's options: the same names as infer_files'.
    out = setup['tmp'] / 'out_glob'
    script = load_script('tools/infer')
    assert script.main([setup['config'], setup['checkpoint'], f'{folder}/*.png', '--out', str(out),
                        '--which', 'teacher'])['images'] == 2
    assert sorted(p.name for p in (out / 'pred').iterdir()) == ['a.png', 'b.png']
    assert (_png(out / 'pred' / 'a.png') == TEACHER_CLASS).all()


def test_video_frames_and_overlay_video(setup):
    path = str(setup['tmp'] / 'drive.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (64, 32))
    for k in range(4):
        writer.write(street_image(32, 64, 10 + k))
    writer.release()
    capture = cv2.VideoCapture(path)
    frames = [capture.read()[1] for _ in range(4)]  # as decoded, so that compression does not matter
    out = setup['tmp'] / 'out_video'
    result = _run(setup, [path], out, batch_size=3, video_codec='MJPG')
    assert (result['videos'], result['frames']) == (1, 4)
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(_png(out / 'pred' / 'drive' / f'{k:06d}.png'),
                                      expected_labels(setup['model'], frame))
    video = cv2.VideoCapture(str(out / 'overlay' / 'drive.avi'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, first = video.read()
    assert ok and first.shape[1] == 64 and first.shape[0] > 32


def test_sliding_window_by_hand(setup):
    # A 32x64 image is fitted into 128x256; windows of 128x128 at stride 64 start at x = 0, 64, 128.
    model = init_segmentor(setup['config'], setup['checkpoint'], mode='slide', crop_size=(128, 128),
                           stride=(64, 64))
    assert model.test_cfg.mode == 'slide'
    image = street_image(32, 64, 5)
    student = setup['model']

    def slide(inputs):
        total = torch.zeros(1, 19, 128, 256)
        count = torch.zeros(1, 1, 128, 256)
        for x in (0, 64, 128):
            total[..., x:x + 128] += student.encode_decode(inputs[..., x:x + 128], metas(inputs[..., x:x + 128]))
            count[..., x:x + 128] += 1
        return total / count

    expected = expected_labels(student, image, slide)
    np.testing.assert_array_equal(segment(model, [image])[0], expected)
    assert not np.array_equal(expected, expected_labels(student, image))  # the windows change the result


def test_test_time_augmentation_by_hand(setup):
    # test.sh's --tta: the network input at 0.5 to 1.75 times its size, each also flipped; softmax at the
    # image's size, averaged, arg-max.
    image = street_image(32, 64, 7)
    student = setup['model']
    height, width = image.shape[:2]
    net_h, net_w = network_size(height, width)
    inputs = normalise(cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR))
    total = 0
    with torch.no_grad():
        for ratio in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75):
            scaled = F.interpolate(inputs, size=(int(net_h * ratio + 0.5), int(net_w * ratio + 0.5)),
                                   mode='bilinear', align_corners=False)
            for flipped in (False, True):
                view = scaled.flip(-1) if flipped else scaled
                logits = student.encode_decode(view, metas(view))
                logits = F.interpolate(logits.flip(-1) if flipped else logits, size=(height, width),
                                       mode='bilinear', align_corners=False)
                total = total + logits.softmax(1)
    expected = total.argmax(1)[0].numpy().astype(np.uint8)
    model = init_segmentor(setup['config'], setup['checkpoint'])
    np.testing.assert_array_equal(segment(model, [image], tta=True)[0], expected)
    assert not np.array_equal(expected, expected_labels(student, image))  # the augmentation changes the result


def test_errors_are_one_line(setup, tmp_path):
    with pytest.raises(UserError, match='input not found'):
        _run(setup, [tmp_path / 'missing.png'], tmp_path / 'o1')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(UserError, match='no images or videos found in folder'):
        _run(setup, [tmp_path / 'empty'], tmp_path / 'o2')
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(UserError, match='could not be decoded as an image'):
        _run(setup, [broken], tmp_path / 'o3')
    other = tmp_path / 'other.pth'
    five = dict(setup['model'].decode_head.conv_seg.state_dict())
    state = setup['model'].state_dict()
    state.update({f'decode_head.conv_seg.{k}': v[:5] for k, v in five.items()})
    torch.save({'state_dict': state}, str(other))
    image = tmp_path / 'x.png'
    cv2.imwrite(str(image), street_image(32, 64))
    with pytest.raises(UserError, match='does not fit the model'):
        infer_files(setup['config'], str(other), [str(image)], str(tmp_path / 'o4'))
    with pytest.raises(UserError, match='sliding-window inference needs a window'):
        init_segmentor(setup['config'], setup['checkpoint'], mode='slide')
    assert not (tmp_path / 'o4').exists()  # nothing left behind by a failed run


def test_script_choices_are_the_package_s():
    script = load_script('tools/infer')
    assert script.SUB_MODELS == EVALUABLE and script.MODES == MODES
    assert script.OUTPUTS == run_inference.OUTPUTS and script.VIDEO_CODECS == tuple(VIDEO_CODECS)
