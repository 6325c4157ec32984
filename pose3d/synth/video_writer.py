"""Encodes rendered frames as the official ``Videos/<Seq>.<camera>.mp4`` files (PyAV, 50 fps).

H.264 (libx264) in yuv420p like the real videos, one encoder thread so that equal frames
give equal bytes on every machine; where the PyAV build lacks libx264 the next
available encoder is used. Files are written under a temporary name and renamed.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from pose3d.io.atomic import Replacement

FPS = 50
#: Encoders in order of preference (the real videos are H.264).
CODECS: tuple[str, ...] = ("libx264", "libopenh264", "h264", "mpeg4")


def pick_codec(preferred: str | None = None) -> str:
    """The first encoder of ``CODECS`` (or ``preferred``) that this PyAV build can open."""
    for name in ((preferred,) if preferred else CODECS):
        if name not in av.codecs_available:
            continue
        try:
            av.Codec(name, "w")
        except (ValueError, av.FFmpegError):  # a decoder only
            continue
        return name
    raise RuntimeError(f"no usable video encoder among {preferred or ', '.join(CODECS)} in this PyAV build")


def extra_video_frames(seed: int, subject: str, file_base: str) -> tuple[int, int, int, int]:
    """Video frames beyond the pose frames, per camera (canonical order), between 0 and 3.

    As in the real table, cameras 1 and 4 agree, cameras 2 and 3 agree and are never
    shorter, and most sequences have one extra frame. Deterministic in its arguments.
    """
    key = zlib.crc32(f"{seed}/{subject}/{file_base}".encode())
    rng = np.random.default_rng(key)
    a = int(rng.choice([0, 1, 2], p=[0.1, 0.7, 0.2]))
    b = min(3, a + int(rng.choice([0, 1], p=[0.4, 0.6])))
    return (a, b, b, a)


class VideoWriter:
    """Writes (H, W, 3) uint8 RGB frames to ``path``; the file appears only on :meth:`close`.

    Use as a context manager: on an exception the partial file is removed.
    """

    def __init__(self, path: Path | str, width: int, height: int, fps: int = FPS, codec: str | None = None,
                 crf: int = 23, preset: str = "veryfast"):
        if width % 2 or height % 2:
            raise ValueError(f"{path}: yuv420p needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height = width, height
        self.codec = pick_codec(codec)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._replacement = Replacement(self.path)
        self._container = av.open(str(self._replacement.tmp), mode="w", format="mp4")
        try:
            options = {"crf": str(crf), "preset": preset} if self.codec == "libx264" else {}
            stream = self._container.add_stream(self.codec, rate=fps, options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.thread_count = 1  # x264's output depends on its thread count
            stream.codec_context.gop_size = fps  # a key frame every second: cheap seeking
            if self.codec == "mpeg4":
                stream.codec_context.bit_rate = 40 * width * height  # about 2 bits a pixel at 50 fps
        except Exception:
            self.abort()
            raise
        self._stream = stream
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"{self.path}: expected ({self.height}, {self.width}, 3) uint8 frames, got {frame.shape} {frame.dtype}"
            )
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = self.frames  # in 1 / fps (the encoder's time base, from ``rate``)
        self._container.mux(self._stream.encode(vf))
        self.frames += 1

    def close(self) -> int:
        """Flush, close and move the file into place; returns the number of frames."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._replacement.commit()
        return self.frames

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self._replacement.discard()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: Path | str, frames: Iterable[np.ndarray], width: int, height: int, **options) -> int:
    """Encode ``frames`` to ``path``; returns how many were written."""
    with VideoWriter(path, width, height, **options) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frames


def probe_video(path: Path | str) -> tuple[int, int, int]:
    """(decoded frame count, width, height) of a video, by decoding it (container counts can be off by one)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            n = sum(1 for _ in container.decode(stream))
            return n, stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, IndexError) as exc:
        raise ValueError(f"{path}: not a readable video ({exc})") from exc
