"""Frame-exact sequential decoding with PyAV: video frame i is the i-th frame the decoder outputs.

Seeking in H.264 lands on key frames and is not frame-exact, so a video is decoded from
its start; only the frames that are kept are converted to RGB (the conversion, not the
decode, is what a skipped frame saves). Decoding stops at ``stop`` (the pose count):
videos are often a few frames longer than their poses.

Corrupt input must never turn into a silently wrong frame. The decoder runs with
``err_detect=explode`` (a damaged packet raises instead of being concealed), frames the
decoder flags as corrupt end the video, and timestamps are checked for gaps (a packet the
demuxer dropped would shift every later index by one). Whatever stops the decode early is
returned in :class:`DecodeReport`; the frames yielded before it are good.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter


class VideoError(Exception):
    """A video that cannot be used at all (absent, unreadable, no video stream)."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class DecodeReport:
    """What the decoder saw; filled while :func:`decode_frames` runs."""

    path: str
    codec: str = ""
    width: int = 0
    height: int = 0
    declared_frames: int = 0  # the container's frame count (0: not stored)
    decoded: int = 0  # frames decoded and found good, counted from frame 0
    error: str = ""  # why decoding ended before ``stop`` ('' if it did not, or the video ended cleanly)


def probe(path: Path | str) -> DecodeReport:
    """Open a video and read its stream header (size, codec, declared frames). Raises VideoError."""
    with _open(path) as container:
        return _header(path, container.streams.video[0])


def decode_frames(
    path: Path | str,
    keep: Iterable[int],
    stop: int,
    report: DecodeReport | None = None,
    threads: int = 1,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, rgb)`` for each index in ``keep`` (< ``stop``), decoding frames 0 .. stop-1 in order.

    ``rgb`` is (H, W, 3) uint8. Raises VideoError at once if the file cannot be opened; a
    problem after that ends the iteration and is described in ``report.error``. Frames
    after the last kept one are still decoded up to ``stop``, so ``report.decoded`` tells
    whether the video is as long as its poses.
    """
    wanted = np.unique(np.asarray(list(keep), dtype=np.int64))
    wanted = wanted[(wanted >= 0) & (wanted < stop)]
    report = report if report is not None else DecodeReport(str(path))
    container = _open(path)
    try:
        stream = container.streams.video[0]
        _fill(report, _header(path, stream))
    except BaseException:
        container.close()
        raise
    return _iterate(container, stream, wanted, stop, report, threads)


def _iterate(container, stream, wanted: np.ndarray, stop: int, report: DecodeReport, threads: int):
    try:
        ctx = stream.codec_context
        ctx.options = {"err_detect": "explode"}
        ctx.thread_count = max(1, int(threads))
        ctx.thread_type = "FRAME" if threads > 1 else "NONE"
        step = _frame_step(stream)
        to_rgb = VideoReformatter()  # keeps one colour converter for the video, not one per frame
        last_pts: int | None = None
        next_keep = 0
        frames = container.decode(stream)
        while report.decoded < stop:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                report.error = f"decode error after frame {report.decoded - 1}: {_reason(exc)}"
                return
            problem = _check(frame, report, last_pts, step)
            if problem:
                report.error = f"frame {report.decoded}: {problem}"
                return
            last_pts = frame.pts
            index = report.decoded
            report.decoded += 1
            if next_keep < len(wanted) and index == wanted[next_keep]:
                next_keep += 1
                yield index, to_rgb.reformat(frame, format="rgb24").to_ndarray()
    finally:
        container.close()


def _open(path: Path | str):
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "video file is absent")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise VideoError(path, f"cannot be opened as a video ({_reason(exc)}); truncated or not an mp4?") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(path, "has no video stream")
    return container


def _reason(exc: Exception) -> str:
    """FFmpeg's words for an error, without the file name it repeats."""
    return str(getattr(exc, "strerror", None) or exc)


def _header(path: Path | str, stream) -> DecodeReport:
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise VideoError(path, "video stream has no frame size (damaged header)")
    return DecodeReport(str(path), ctx.name, ctx.width, ctx.height, int(stream.frames or 0))


def _fill(report: DecodeReport, header: DecodeReport) -> None:
    report.codec, report.width, report.height = header.codec, header.width, header.height
    report.declared_frames = header.declared_frames


def _frame_step(stream) -> float | None:
    """Nominal frame duration in time-base ticks (None when the stream does not say)."""
    rate, tb = stream.average_rate or stream.guessed_rate, stream.time_base
    if not rate or not tb:
        return None
    return float(1 / (rate * tb))


def _check(frame, report: DecodeReport, last_pts: int | None, step: float | None) -> str:
    if frame.is_corrupt:
        return "the decoder flagged the frame as corrupt"
    if frame.width != report.width or frame.height != report.height:
        return f"frame size changed to {frame.width}x{frame.height} from {report.width}x{report.height}"
    if last_pts is not None and frame.pts is not None:
        delta = frame.pts - last_pts
        if delta <= 0:
            return f"timestamps out of order ({last_pts} -> {frame.pts})"
        if step and delta > 1.5 * step:
            return f"timestamp gap of {delta / step:.1f} frames (frames lost in a damaged file)"
    return ""
