"""Writes the synthetic stand-in in the official Human3.6M layout.

The same file names, CDF variables, shapes, units and quirks as the real release, so
that ``convert`` (and any other tool) cannot tell the difference by its structure.
``pose3d.synth.manifest`` records what was generated. Videos and bounding-box masks are
rendered only for the sequences that :class:`VideoOptions` selects: they cost far more
than the pose files.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.geometry.projection import project_camera, world_to_camera
from pose3d.h36m.cameras import CAMERA_IDS, get_camera, subject_cameras
from pose3d.h36m.cdf_io import write_pose
from pose3d.h36m.layout import bbox_path, pose_path, video_path
from pose3d.h36m.sequences import SequenceInfo, subject_sequences
from pose3d.synth.masks_mat import mask_box, write_bbox_mat
from pose3d.synth.motion import generate_sequence
from pose3d.synth.profiles import get_profile
from pose3d.synth.render import BodyRenderer, to_video_pixels, video_size
from pose3d.synth.video_writer import FPS, VideoWriter, extra_video_frames, pick_codec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoOptions:
    """Which of a subject's sequences get ``Videos/*.mp4`` and ``ground_truth_bb/*.mat``, and how.

    ``actions`` entries match a sequence by its action group ('Photo'), official action
    name ('TakingPhoto'), file base ('Photo 1') or VideoPose3D key; None selects all 30.
    """

    actions: tuple[str, ...] | None = None
    cameras: tuple[int, ...] = (0, 1, 2, 3)
    scale: float = 0.25
    crf: int = 23

    def selects(self, seq: SequenceInfo) -> bool:
        if self.actions is None:
            return True
        return bool({seq.group, seq.action, seq.file_base, seq.key} & set(self.actions))


@dataclass(frozen=True)
class SubjectJob:
    """Everything one worker needs to write one subject (picklable); ``videos`` None: poses only."""

    root: str
    subject: str
    profile: str
    seed: int
    videos: VideoOptions | None = None


_VIDEO_KEYS = ("enabled", "subjects", "actions", "cameras", "scale", "crf")


def video_options(section: dict | None, subjects: list[str]) -> dict[str, VideoOptions]:
    """Per-subject options from ``synthesize.videos`` in params.yaml; {} when absent or disabled.

    ``subjects`` and ``actions`` take a list or "all"; ``cameras`` takes indices 0..3 or
    camera ids. Anything unknown is a ValueError that names the key.
    """
    if section is None or section is False:
        return {}
    if not isinstance(section, dict):
        raise ValueError(f"synthesize.videos must be a mapping, got {section!r}")
    if not section.get("enabled", True):
        return {}
    unknown = sorted(set(section) - set(_VIDEO_KEYS))
    if unknown:
        raise ValueError(f"synthesize.videos: unknown keys {unknown}; known: {', '.join(_VIDEO_KEYS)}")
    if "subjects" not in section:
        raise ValueError('synthesize.videos.subjects is required: a list of subjects or "all"')
    chosen = _all_or_list(section["subjects"], "subjects")
    chosen = list(subjects) if chosen is None else chosen
    missing = [s for s in chosen if s not in subjects]
    if missing:
        raise ValueError(f"synthesize.videos.subjects {missing} are not in dataset.subjects {list(subjects)}")
    actions = _all_or_list(section.get("actions", "all"), "actions")
    if actions is not None:
        names = {n for s in chosen for q in subject_sequences(s) for n in (q.group, q.action, q.file_base, q.key)}
        bad = [a for a in actions if a not in names]
        if bad:
            raise ValueError(f"synthesize.videos.actions {bad} match no sequence of {chosen}")
    cameras = []
    listed = section.get("cameras", [0, 1, 2, 3])
    if not isinstance(listed, (list, tuple)):
        raise ValueError(f"synthesize.videos.cameras must be a list of indices 0..3 or camera ids, got {listed!r}")
    for c in listed:
        if isinstance(c, int) and 0 <= c < len(CAMERA_IDS):
            cameras.append(c)
        elif str(c) in CAMERA_IDS:
            cameras.append(CAMERA_IDS.index(str(c)))
        else:
            raise ValueError(f"synthesize.videos.cameras: {c!r} is neither an index 0..3 nor one of {CAMERA_IDS}")
    scale = section.get("scale", 0.25)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ValueError(f"synthesize.videos.scale must be in (0, 1], got {scale!r}")
    crf = section.get("crf", 23)
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise ValueError(f"synthesize.videos.crf must be an integer 0..51, got {crf!r}")
    options = VideoOptions(
        actions=None if actions is None else tuple(actions), cameras=tuple(sorted(set(cameras))),
        scale=float(scale), crf=crf,
    )
    return {s: options for s in chosen} if options.cameras else {}


def _all_or_list(value, key: str) -> list[str] | None:
    """None for "all", else the list of names."""
    if value == "all":
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"synthesize.videos.{key} must be a list or \"all\", got {value!r}")
    return [str(v) for v in value]


def video_plan(job: SubjectJob) -> dict[str, int]:
    """{'<Seq>.<camera>': video frames} of every video the job writes (empty without videos)."""
    if job.videos is None:
        return {}
    profile = get_profile(job.profile)
    plan = {}
    for seq in subject_sequences(job.subject):
        if job.videos.selects(seq):
            extra = extra_video_frames(job.seed, job.subject, seq.file_base)
            for i in job.videos.cameras:
                plan[f"{seq.file_base}.{CAMERA_IDS[i]}"] = profile.pose_frames(seq) + extra[i]
    return plan


def video_record(jobs: list[SubjectJob]) -> dict | None:
    """The manifest's account of the videos: scale, size, codec, fps and frame counts; None without videos."""
    chosen = [j for j in jobs if j.videos is not None and video_plan(j)]
    if not chosen:
        return None
    return {
        "scale": chosen[0].videos.scale,
        "codec": pick_codec(),
        "fps": FPS,
        "size_wh": {j.subject: {CAMERA_IDS[c]: list(video_size(get_camera(j.subject, c), j.videos.scale))
                                for c in j.videos.cameras} for j in chosen},
        "video_frames": {j.subject: video_plan(j) for j in chosen},
    }


def write_subject(job: SubjectJob) -> dict[str, int]:
    """Write every action sequence of one subject; returns {file_base: pose frames}."""
    profile = get_profile(job.profile)
    cameras = subject_cameras(job.subject)
    root = Path(job.root)
    frames: dict[str, int] = {}
    videos = 0
    for seq in subject_sequences(job.subject):
        n = profile.pose_frames(seq)
        world_mm = generate_sequence(job.subject, seq.group, seq.subaction, n, seed=job.seed)
        # Everything downstream is derived from the stored float32 values, so the
        # official consistency (D2 = projection of D3) holds to float32 rounding.
        world_mm = world_mm.astype(np.float32)
        write_pose(pose_path(root, job.subject, "D3_Positions", seq), world_mm)
        for cam in cameras:
            cam_mm = world_to_camera(world_mm.astype(np.float64), cam)
            write_pose(pose_path(root, job.subject, "D3_Positions_mono", seq, cam.camera_id), cam_mm)
            write_pose(pose_path(root, job.subject, "D2_Positions", seq, cam.camera_id), project_camera(cam_mm, cam))
        frames[seq.file_base] = n
        if job.videos is not None and job.videos.selects(seq):
            extra = extra_video_frames(job.seed, job.subject, seq.file_base)
            for i in job.videos.cameras:
                write_video_and_boxes(root, seq, get_camera(job.subject, i), world_mm, extra[i], job.videos)
                videos += 1
    log.info("%s: %d sequences, %d pose frames, %d videos", job.subject, len(frames), sum(frames.values()), videos)
    return frames


def write_video_and_boxes(root: Path, seq: SequenceInfo, camera: Camera, world_mm: np.ndarray, extra: int,
                          options: VideoOptions) -> int:
    """Render one camera's video of a sequence and its bounding-box masks; returns the video frames.

    The video runs ``extra`` frames past the poses, as the real ones do; the body holds
    its last pose there.
    """
    renderer = BodyRenderer(camera, options.scale)
    w, h = renderer.width, renderer.height
    poses = np.concatenate([world_mm, np.repeat(world_mm[-1:], extra, axis=0)])
    boxes = np.empty((len(poses), 4), dtype=np.int64)
    with VideoWriter(video_path(root, camera.subject, seq, camera.camera_id), w, h, crf=options.crf) as writer:
        for i, (frame, mask) in enumerate(renderer.render_sequence(poses)):
            writer.write(frame)
            boxes[i] = mask_box(mask)
            if boxes[i, 2] - boxes[i, 0] < 2 or boxes[i, 3] - boxes[i, 1] < 2:  # body (nearly) off screen
                boxes[i] = _joint_box(poses[i], camera, w, h)
    write_bbox_mat(bbox_path(root, camera.subject, seq, camera.camera_id), boxes, h, w)
    return len(poses)


def _joint_box(joints_world_mm: np.ndarray, camera: Camera, width: int, height: int) -> tuple[int, int, int, int]:
    """Box of the projected joints in video pixels, clipped to the frame and at least 2 x 2."""
    uv = to_video_pixels(project_camera(world_to_camera(joints_world_mm.astype(np.float64), camera), camera),
                         camera, width, height)
    left, top = np.clip(np.floor(uv.min(axis=0)), 0, [width - 2, height - 2]).astype(int)
    right, bottom = np.clip(np.ceil(uv.max(axis=0)), [left + 2, top + 2], [width, height]).astype(int)
    return int(top), int(left), int(bottom), int(right)
