"""One video -> one shard: decode the kept frames, box the person, crop, record the crop camera.

A job carries everything a worker needs (paths, kept frame numbers, the 2D joints of those
frames), so it runs the same in a local process pool and on a Dask worker. Problems end
up in the result, never as a silently wrong frame: an unreadable video is skipped, a
damaged or short one is cut at its last good frame, and either is said in ``problems``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.h36m.cameras import get_camera
from pose3d.video.boxes import MaskFileError, box_outline, joint_boxes, read_mask_boxes, square_crop
from pose3d.video.crop import crop_frame, crop_intrinsics, to_video, undistort_points, video_camera, video_scale
from pose3d.video.decode import DecodeReport, VideoError, decode_frames, probe
from pose3d.video.shards import ENCODINGS, ShardWriter

BOX_MODES: tuple[str, ...] = ("auto", "masks", "joints")


@dataclass(frozen=True)
class FrameSettings:
    """The ``frames`` params that shape the output (not how the work is spread)."""

    every_n: int = 5  # training subjects: every n-th pose frame (Integral / mmpose fps10)
    test_every_n: int = 16  # test subjects: every n-th (Sun et al. "Protocol #2" takes every 64th)
    crop: int = 128  # output side, pixels
    margin: float = 0.1  # mask box: longer side enlarged by this fraction
    joints_margin: float = 0.25  # joint box: larger, joints lie inside the silhouette
    undistort: bool = False  # crops from the undistorted frame (crop camera without distortion)
    boxes: str = "auto"  # auto: masks where present, else joints | masks: require the .mat | joints
    encoding: str = "jpeg"  # jpeg | raw
    jpeg_qscale: int = 3  # ffmpeg -qscale:v (2 best .. 31); h36m-fetch extracts with 3
    decoder_threads: int = 1  # per video; videos already run in parallel

    @classmethod
    def from_params(cls, params: dict, ignore: tuple[str, ...] = ("workers", "dask_address", "subjects")) -> FrameSettings:
        """From the ``frames`` params section; an unknown key is an error (a typo must not be ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known - set(ignore))
        if unknown:
            raise ValueError(f"frames: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        types = {f.name: type(f.default) for f in fields(cls)}
        values = {k: _coerce(k, v, types[k]) for k, v in params.items() if k in known and v is not None}
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.every_n < 1 or self.test_every_n < 1:
            raise ValueError("frames.every_n and frames.test_every_n must be >= 1")
        if self.crop < 8:
            raise ValueError(f"frames.crop must be at least 8 pixels, got {self.crop}")
        if self.margin < 0 or self.joints_margin < 0:
            raise ValueError("frames.margin and frames.joints_margin must be >= 0")
        if self.boxes not in BOX_MODES:
            raise ValueError(f"frames.boxes must be one of {', '.join(BOX_MODES)}, got {self.boxes!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"frames.encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")
        if not 1 <= self.jpeg_qscale <= 31:
            raise ValueError(f"frames.jpeg_qscale must be within 1..31, got {self.jpeg_qscale}")


def _coerce(name: str, value, kind: type):
    """YAML value -> the field's type, refusing lossy conversions (``every_n: 2.5`` is an error)."""
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise ValueError(f"frames.{name} must be a {kind.__name__}, got {value!r}")
    return kind(value)


@dataclass(frozen=True)
class VideoJob:
    subject: str
    key: str  # VideoPose3D action key
    file_base: str  # official sequence name
    camera_id: str
    split: str  # train | test
    video: str  # absolute paths (Dask workers do not share the working directory) ...
    masks: str
    shard: str
    video_label: str  # ... and the same as the user gave them, for messages and tables
    masks_label: str
    shard_name: str  # relative to the subject's output folder
    frames: np.ndarray  # (K,) kept pose frames, ascending
    joints_uv: np.ndarray  # (K, J, 2) 2D joints of those frames, pixels of the camera's (distorted) image
    n_pose: int
    settings: FrameSettings


@dataclass
class VideoResult:
    """One (sequence, camera): status ok | cut | skipped | missing | not_provided | excluded, and why."""

    subject: str
    key: str
    file_base: str
    camera_id: str
    split: str
    video: str
    status: str
    problems: list[str] = field(default_factory=list)
    n_pose: int = 0
    planned: int = 0  # kept frames asked for
    kept: int = 0  # crops written
    declared_frames: int = 0  # the container's frame count
    decoded: int = 0  # frames decoded (up to the pose count)
    video_width: int = 0
    video_height: int = 0
    masks_held: int = -1  # masks in the .mat file (-1: not read)
    mask_boxes: int = 0  # extracted frames boxed by their mask ...
    joint_boxes: int = 0  # ... and by their 2D joints
    shard: str = ""
    rows: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "rows"}
        out["problems"] = " | ".join(self.problems)
        return out


def extract_video(job: VideoJob) -> VideoResult:
    """Run one job; writes ``job.shard`` unless the video is unusable."""
    st = job.settings
    res = VideoResult(job.subject, job.key, job.file_base, job.camera_id, job.split, job.video_label, "ok",
                      n_pose=job.n_pose, planned=len(job.frames))
    try:
        header = probe(job.video)
    except VideoError as exc:
        return _skip(res, f"{job.video_label}: {exc.problem}")
    res.declared_frames, res.video_width, res.video_height = header.declared_frames, header.width, header.height
    camera = get_camera(job.subject, job.camera_id)
    try:
        scale = video_scale(camera, header.width, header.height)
    except ValueError as exc:
        return _skip(res, f"{job.video_label}: {exc}")
    vcam = video_camera(camera, scale, header.width, header.height)
    try:
        boxes, from_mask = person_boxes(job, header, vcam, to_video(job.joints_uv, scale), res)
    except MaskFileError as exc:
        return _skip(res, f"{job.masks_label}: {exc.problem} (frames.boxes: masks requires it)")
    margins = np.where(from_mask, st.margin, st.joints_margin)
    squares = [square_crop(b, m) for b, m in zip(boxes, margins)]

    position = {int(f): k for k, f in enumerate(job.frames)}
    report = DecodeReport(job.video_label)
    writer = ShardWriter(job.shard, st.encoding, st.crop, st.jpeg_qscale)
    try:
        for index, rgb in decode_frames(job.video, job.frames, job.n_pose, report, st.decoder_threads):
            k = position[index]
            left, top, side = squares[k]
            crop = crop_frame(rgb, left, top, side, st.crop, vcam if st.undistort else None)
            offset, nbytes = writer.add(crop)
            res.rows.append(_row(job, vcam, index, len(res.rows), offset, nbytes, boxes[k], bool(from_mask[k]), squares[k]))
    except VideoError as exc:  # the file changed between probe and decode
        writer.abort()
        return _skip(res, f"{job.video_label}: {exc.problem}")
    except BaseException:
        writer.abort()
        raise
    res.decoded, res.kept = report.decoded, len(res.rows)
    no_mask = sum(r["box_source"] == "joints" for r in res.rows)
    res.mask_boxes, res.joint_boxes = res.kept - no_mask, no_mask
    if res.masks_held >= 0 and no_mask:
        res.problems.append(f"{job.masks_label}: {no_mask} of {res.kept} extracted frames have no mask or an empty one "
                            f"(file holds {res.masks_held} masks); their boxes come from the 2D joints")
    if report.error:
        res.problems.append(f"{job.video_label}: {report.error}; cut after frame {report.decoded - 1} "
                            f"({res.kept} of {res.planned} kept frames written)")
    elif report.decoded < job.n_pose:
        res.problems.append(
            f"{job.video_label}: video has {report.decoded} frames but the poses have {job.n_pose} "
            f"(container declares {header.declared_frames}); frames from {report.decoded} on are missing "
            f"({res.kept} of {res.planned} kept frames written)"
        )
    if not res.rows:
        writer.abort()
        return _skip(res, "no frame could be extracted")
    writer.close()
    res.shard = job.shard_name
    if res.kept < res.planned:
        res.status = "cut"
    return res


def _skip(res: VideoResult, problem: str) -> VideoResult:
    res.status = "skipped"
    res.problems.append(problem)
    return res


def person_boxes(job: VideoJob, header: DecodeReport, vcam: Camera, uv: np.ndarray, res: VideoResult) -> tuple[np.ndarray, np.ndarray]:
    """Per kept frame: the person box in pixels of the image the crop is cut from, and whether a mask gave it.

    ``uv`` are the joints in video pixels; with undistortion, boxes and joints are moved
    into the undistorted image first.
    """
    st = job.settings
    k = len(job.frames)
    boxes, found = np.full((k, 4), np.nan), np.zeros(k, dtype=bool)
    if st.boxes != "joints":
        try:
            boxes, found, n_masks = read_mask_boxes(job.masks, job.frames, header.width, header.height)
        except MaskFileError as exc:
            if st.boxes == "masks":
                raise
            res.problems.append(f"{job.masks_label}: {exc.problem}; boxes from the 2D joints instead")
        else:
            res.masks_held = n_masks
    if st.undistort:
        uv = undistort_points(uv, vcam)
        for i in np.flatnonzero(found):
            outline = undistort_points(box_outline(boxes[i]), vcam)
            boxes[i] = np.concatenate([outline.min(axis=0), outline.max(axis=0)])
    if (~found).any():
        boxes[~found] = joint_boxes(uv[~found])
    return boxes, found


def _row(job: VideoJob, vcam: Camera, frame: int, row: int, offset: int, nbytes: int, box: np.ndarray,
         from_mask: bool, square: tuple[int, int, int]) -> dict:
    st = job.settings
    left, top, side = square
    f, c = crop_intrinsics(vcam.focal_px, vcam.centre_px, left, top, side, st.crop)
    k = np.zeros(3) if st.undistort else vcam.radial_k123
    p = np.zeros(2) if st.undistort else vcam.tangential_vp3d_p1p2
    return {
        "subject": job.subject, "key": job.key, "file_base": job.file_base, "camera": job.camera_id,
        "camera_index": vcam.index, "frame": frame, "split": job.split,
        "video_width": vcam.width_px, "video_height": vcam.height_px,
        "shard": job.shard_name, "row": row, "offset": offset, "nbytes": nbytes,
        "box_source": "mask" if from_mask else "joints",
        "box_left": float(box[0]), "box_top": float(box[1]), "box_right": float(box[2]), "box_bottom": float(box[3]),
        "crop_left": left, "crop_top": top, "crop_side": side, "crop_size": st.crop, "undistorted": int(st.undistort),
        "fx": float(f[0]), "fy": float(f[1]), "cx": float(c[0]), "cy": float(c[1]),
        "k1": float(k[0]), "k2": float(k[1]), "k3": float(k[2]), "p1_vp3d": float(p[0]), "p2_vp3d": float(p[1]),
    }


def shard_name(key: str, camera_id: str) -> str:
    """Shard file of one (sequence, camera), relative to the subject's output folder."""
    return f"shards/{key}.{camera_id}.npy"
