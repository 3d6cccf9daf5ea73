"""What to segment: image files, folders of them, glob patterns and video files, read frame by frame."""
import glob
import os
import os.path as osp
from dataclasses import dataclass

import cv2

from ..errors import UserError
from ..evaluation.visualize import output_names

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


@dataclass(frozen=True)
class Source:
    """One input file.

    Attributes:
        path (str): the file.
        name (str): the output name without extension, unique among the inputs (e.g. ``frankfurt_000000``).
        is_video (bool): read frame by frame.
    """
    path: str
    name: str
    is_video: bool


def _kind(path):
    ext = osp.splitext(path)[1].lower()
    return 'video' if ext in VIDEO_EXTENSIONS else 'image' if ext in IMAGE_EXTENSIONS else None


def _expand(item):
    """The files one command-line input names: itself, the images and videos under a folder (recursively), or
    those a glob pattern matches."""
    if osp.isdir(item):
        found = [osp.join(root, f) for root, _, files in os.walk(item) for f in files]
        where = f'folder {item}'
    elif osp.isfile(item):
        return [item]
    elif glob.has_magic(item):
        found = [p for p in glob.glob(item, recursive=True) if osp.isfile(p)]
        where = f'pattern {item}'
    else:
        raise UserError(f'input not found: {item}')
    files = sorted(p for p in found if _kind(p))
    if not files:
        raise UserError(f'no images or videos found in {where} (looked for '
                        f'{", ".join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})')
    return files


def find_sources(inputs):
    """Every input file, in order, each once.

    Args:
        inputs (Sequence[str]): image or video files, folders, glob patterns (quoted, e.g. ``'data/*.png'``).

    Returns:
        list[Source]: a file named explicitly with an unknown extension is read as an image.
    """
    paths = list(dict.fromkeys(osp.normpath(p) for item in inputs for p in _expand(item)))
    names = output_names(paths)  # stems, prefixed with their folder where stems repeat (Cityscapes' cities)
    return [Source(p, osp.splitext(names[p])[0], _kind(p) == 'video') for p in paths]


class VideoReader:
    """The frames of a video file as (H, W, 3) uint8 BGR arrays, with its frame rate and (estimated) length."""

    def __init__(self, path):
        self.path = path
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise UserError(f'cannot open video {path}: not a video file, or a codec OpenCV cannot decode')
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 25.0
        self.frame_count = max(int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)

    def batches(self, size):
        """Lists of up to ``size`` consecutive frames, until the video ends."""
        batch = []
        while True:
            ok, frame = self.capture.read()
            if not ok:
                break
            batch.append(frame)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def close(self):
        self.capture.release()
