"""Files that inference writes: raw trainId PNGs, overlay PNGs and overlay videos, each written atomically."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..errors import UserError

# FourCC -> file extension; both are written by every OpenCV wheel (headless included).
VIDEO_CODECS = {'mp4v': '.mp4', 'MJPG': '.avi'}


def save_png(path, array):
    """An (H, W) uint8 label or (H, W, 3) uint8 RGB image as a PNG, creating its folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    picture = Image.fromarray(np.ascontiguousarray(array))
    # No fsync per file (thousands of frames); a re-run into a fresh folder rewrites them.
    atomic_write(path, lambda f: picture.save(f, format='PNG'), sync=False)


class VideoWriter:
    """Frames (RGB) into a video file: written under a temporary name, then copied to its own atomically.

    Args:
        path (str): the video file; its extension must be the codec's (see :data:`VIDEO_CODECS`).
        fps (float): frame rate.
        codec (str): a key of :data:`VIDEO_CODECS`.
    """

    def __init__(self, path, fps, codec='mp4v'):
        self.path, self.fps, self.codec, self.writer = path, fps, codec, None
        folder, name = osp.split(path)
        self.tmp = osp.join(folder, f'.{name}.part{VIDEO_CODECS[codec]}')

    def write(self, frame):
        if self.writer is None:
            os.makedirs(osp.dirname(self.path), exist_ok=True)
            height, width = frame.shape[:2]
            self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
            if not self.writer.isOpened():
                raise UserError(f'cannot write video {self.path}: OpenCV has no {self.codec} encoder here; '
                                f'try --video-codec {"MJPG" if self.codec != "MJPG" else "mp4v"}')
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self):
        """Finish the file; nothing is written for a video without frames."""
        if self.writer is None:
            return
        self.writer.release()
        try:
            with open(self.tmp, 'rb') as src:
                atomic_write(self.path, lambda f: shutil.copyfileobj(src, f))
        finally:
            os.remove(self.tmp)

    def discard(self):
        """Drop what was written (an interrupted run leaves no partial video)."""
        if self.writer is not None:
            self.writer.release()
            self.writer = None
            if osp.exists(self.tmp):
                os.remove(self.tmp)
