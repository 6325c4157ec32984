"""Writes the synthetic stand-in in the official Human3.6M layout.

The same file names, CDF variables, shapes, units and quirks as the real release, so
that ``convert`` (and any other tool) cannot tell the difference by its structure.
``pose3d.synth.manifest`` records what was generated.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import project_camera, world_to_camera
from pose3d.h36m.cameras import subject_cameras
from pose3d.h36m.cdf_io import write_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import subject_sequences
from pose3d.synth.motion import generate_sequence
from pose3d.synth.profiles import get_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubjectJob:
    """Everything one worker needs to write one subject (picklable)."""

    root: str
    subject: str
    profile: str
    seed: int


def write_subject(job: SubjectJob) -> dict[str, int]:
    """Write every action sequence of one subject; returns {file_base: pose frames}."""
    profile = get_profile(job.profile)
    cameras = subject_cameras(job.subject)
    root = Path(job.root)
    frames: dict[str, int] = {}
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
    log.info("%s: %d sequences, %d pose frames", job.subject, len(frames), sum(frames.values()))
    return frames
