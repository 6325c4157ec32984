"""Sizes of the synthetic stand-in: how many pose frames each official sequence gets.

``full`` keeps the real per-sequence counts of the official table (Human3.6M scale);
the smaller profiles scale them down but keep their relative lengths, so that long
and short sequences stay long and short.
"""
from __future__ import annotations

from dataclasses import dataclass

from pose3d.h36m.sequences import SequenceInfo


@dataclass(frozen=True)
class Profile:
    name: str
    frame_scale: float
    min_frames: int

    def pose_frames(self, seq: SequenceInfo) -> int:
        if self.frame_scale >= 1:
            return seq.pose_frames
        return max(self.min_frames, int(round(seq.pose_frames * self.frame_scale)))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("tiny", frame_scale=1 / 40, min_frames=40),  # ~13k frames: tests, seconds
        Profile("default", frame_scale=1 / 8, min_frames=120),  # ~66k frames: the fresh-machine run
        Profile("full", frame_scale=1.0, min_frames=1),  # 527,599 frames: the real table
    )
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown synthesize profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
