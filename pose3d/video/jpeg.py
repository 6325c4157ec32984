"""JPEG encoding and decoding through PyAV's (FFmpeg's) MJPEG codec: no extra image library.

Each MJPEG packet is a complete baseline JPEG file (4:2:0, the same encoder as
``ffmpeg -qscale:v``), readable by any JPEG decoder (Pillow, OpenCV, torchvision).
``bitexact`` keeps the encoder's version string out of the file, so equal images give
equal bytes.
"""
from __future__ import annotations

import os
import threading
from fractions import Fraction

import av
import numpy as np
from av.codec.context import Flags
from av.video.reformatter import VideoReformatter

#: FFmpeg's FF_QP2LAMBDA: ``-qscale:v q`` sets global_quality = q * 118.
_QP2LAMBDA = 118


class JpegEncoder:
    """Encodes (H, W, 3) uint8 RGB images of one size; ``qscale`` as ffmpeg's ``-qscale:v`` (2 best .. 31)."""

    def __init__(self, width: int, height: int, qscale: int = 3):
        if not 1 <= int(qscale) <= 31:
            raise ValueError(f"JPEG qscale must be within 1..31, got {qscale}")
        ctx = av.CodecContext.create("mjpeg", "w")
        ctx.width, ctx.height = int(width), int(height)
        ctx.pix_fmt = "yuvj420p"
        ctx.time_base = Fraction(1, 50)
        ctx.flags |= Flags.qscale | Flags.bitexact
        ctx.global_quality = int(qscale) * _QP2LAMBDA
        # ffmpeg's command line also puts the quality on every frame; PyAV's frames have no such field
        # and a frame quality of 0 means "clip to qmin" (2), so the quantiser is pinned here instead
        ctx.qmin = ctx.qmax = int(qscale)
        ctx.thread_count = 1
        ctx.open()
        self._ctx, self._pts = ctx, 0
        self._yuv = VideoReformatter()  # one converter for all images: creating one costs more than a 256 px JPEG

    def encode(self, rgb: np.ndarray) -> bytes:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb, dtype=np.uint8), format="rgb24")
        frame = self._yuv.reformat(frame, format="yuvj420p")
        frame.pts = self._pts
        self._pts += 1
        packets = self._ctx.encode(frame)
        if len(packets) != 1:
            raise RuntimeError(f"the MJPEG encoder returned {len(packets)} packets for one image")
        return bytes(packets[0])


_local = threading.local()
_inherited: list = []


def _forget_in_child() -> None:
    """A forked child (a process pool's worker, a data-loader worker) hangs if it decodes with the
    parent's decoder, and also if it frees it; the child keeps it unused and makes its own."""
    _inherited.append(dict(_local.__dict__))
    _local.__dict__.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 RGB (one decoder per thread: safe in data-loader threads)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = _local.ctx = av.CodecContext.create("mjpeg", "r")
        ctx.thread_count = 1
        _local.rgb = VideoReformatter()
    frames = ctx.decode(av.Packet(bytes(data)))
    if len(frames) != 1:
        raise ValueError(f"not a single JPEG image ({len(data)} bytes gave {len(frames)} frames)")
    return _local.rgb.reformat(frames[0], format="rgb24").to_ndarray()
