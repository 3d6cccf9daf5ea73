"""Segmenting image files, folders, glob patterns and videos into files (the work of tools/infer.py).

    infer_files(CONFIG, CHECKPOINT, ['street.png', 'frames/*.jpg', 'drive.mp4'], 'preds')

writes, under the output folder (new or empty):

* ``pred/<name>.png``: the raw prediction, uint8 trainIds (0 .. C-1), at the input's resolution (for the
  ACDC / Dark Zurich test servers, or as pseudo-labels); a video's frames go to ``pred/<name>/<frame>.png``;
* ``overlay/<name>.png``: the image blended with the class colours, above a legend of the classes;
* ``overlay/<name>.mp4`` (``.avi`` with the MJPG codec): a video's overlay frames.
"""
import os.path as osp
import sys

import torch

from ..errors import UserError
from ..locks import fresh_output_folder
from ..progress import progress_bar
from .inference import init_segmentor, read_image, segment
from .outputs import VIDEO_CODECS, VideoWriter, save_png
from .overlay import overlay
from .sources import VideoReader, find_sources

OUTPUTS = ('pred', 'overlay')


def _log(line):
    print(line, file=sys.stderr, flush=True)


class _Writer:
    """Writes the outputs asked for of each prediction."""

    def __init__(self, out, outputs, meta, opacity):
        self.out, self.outputs, self.meta, self.opacity = out, outputs, meta, opacity

    def overlay(self, image_bgr, label):
        return overlay(image_bgr[..., ::-1], label, self.meta['classes'], self.meta['palette'], self.opacity)

    def image(self, name, image_bgr, label):
        if 'pred' in self.outputs:
            save_png(osp.join(self.out, 'pred', f'{name}.png'), label)
        if 'overlay' in self.outputs:
            save_png(osp.join(self.out, 'overlay', f'{name}.png'), self.overlay(image_bgr, label))


def _frame_count(path):
    """A video's frame count as its header says (opening every video before any work)."""
    reader = VideoReader(path)
    reader.close()
    return reader.frame_count


def _segment_video(model, source, writer, batch_size, video_codec, progress, tta):
    reader = VideoReader(source.path)
    video = None
    if 'overlay' in writer.outputs:
        video = VideoWriter(osp.join(writer.out, 'overlay', source.name + VIDEO_CODECS[video_codec]), reader.fps,
                            video_codec)
    frame_index = 0
    try:
        for frames in reader.batches(batch_size):
            for frame, label in zip(frames, segment(model, frames, batch_size, tta)):
                if 'pred' in writer.outputs:
                    save_png(osp.join(writer.out, 'pred', source.name, f'{frame_index:06d}.png'), label)
                if video is not None:
                    video.write(writer.overlay(frame, label))
                frame_index += 1
            progress.update(len(frames))
    except BaseException:
        if video is not None:
            video.discard()
        raise
    finally:
        reader.close()
    if video is not None:
        video.close()
    if frame_index == 0:
        raise UserError(f'video {source.path} has no frame OpenCV can decode')
    return frame_index


def infer_files(config, checkpoint, inputs, out, which='student', mode=None, crop_size=None, stride=None,
                batch_size=1, outputs=OUTPUTS, opacity=0.5, video_codec='mp4v', device=None, cfg_options=None,
                tta=False):
    """Segment every input and write the outputs asked for (see the module docstring).

    Args:
        config, checkpoint, which, mode, crop_size, stride, cfg_options: see :func:`.inference.init_segmentor`.
        inputs (Sequence[str]): image or video files, folders, glob patterns (see :func:`.sources.find_sources`).
        out (str): the output folder, new or empty.
        batch_size (int): images or frames per forward pass.
        outputs (Sequence[str]): some of :data:`OUTPUTS`.
        opacity (float): weight of the class colours in the overlays, in [0, 1].
        video_codec (str): a key of :data:`.outputs.VIDEO_CODECS`.
        device (str | None): ``'cpu'`` or ``'cuda'``; default cuda when available.
        tta (bool): multi-scale + flip test-time augmentation (see :func:`.inference.segment`).

    Returns:
        dict: ``{'out': folder, 'images': n, 'videos': n, 'frames': n}``.
    """
    if batch_size < 1:
        raise UserError(f'--batch-size must be 1 or more, got {batch_size}')
    if not 0 <= opacity <= 1:
        raise UserError(f'--opacity must be in [0, 1], got {opacity}')
    if set(outputs) - set(OUTPUTS) or video_codec not in VIDEO_CODECS:
        raise UserError(f'outputs must be among {", ".join(OUTPUTS)} and the video codec one of '
                        f'{", ".join(VIDEO_CODECS)}; got {", ".join(outputs)} and {video_codec}')
    sources = find_sources(inputs)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda: no CUDA device is available')
    images = [s for s in sources if not s.is_video]
    videos = [s for s in sources if s.is_video]
    total = len(images) + sum(_frame_count(s.path) for s in videos)
    with fresh_output_folder(out, '--out', 'infer.py'):
        model = init_segmentor(config, checkpoint, which, device, mode, crop_size, stride, cfg_options)
        _log(f'inference: {len(images)} images, {len(videos)} videos ({total - len(images)} frames), '
             f'test_cfg {dict(model.test_cfg)}{", with test-time augmentation" if tta else ""}, on {device}')
        progress, frames = progress_bar(total, sys.stderr), 0
        writer = _Writer(out, outputs, model.dataset_meta, opacity)
        try:
            for start in range(0, len(images), batch_size):
                batch = images[start:start + batch_size]
                pictures = [read_image(s.path) for s in batch]
                for source, picture, label in zip(batch, pictures, segment(model, pictures, batch_size, tta)):
                    writer.image(source.name, picture, label)
                progress.update(len(batch))
            for source in videos:
                frames += _segment_video(model, source, writer, batch_size, video_codec, progress, tta)
        finally:
            progress.close()
    _log(f'wrote {", ".join(outputs)} of {len(images)} images and {frames} video frames to {out}')
    return {'out': out, 'images': len(images), 'videos': len(videos), 'frames': frames}
