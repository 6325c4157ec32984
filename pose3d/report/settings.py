"""The ``report:`` section of params.yaml, checked: a typo must not silently fall back to a default."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ReportSettings:
    compare: str | None = None  # git revision or DVC experiment for the what-changed table
    clip_action: str = "Walking"  # test sequence to animate: first test view of this action group
    clip_frames: int = 48  # frames in each skeleton animation
    clip_stride: int = 2  # every k-th pose frame (50 Hz -> 25 frames per second of motion)
    worst_frames: int = 3  # stills of the frames with the largest error
    crop_samples: int = 4  # sample crops per subject in the Frames section

    @classmethod
    def from_params(cls, section: dict | None) -> ReportSettings:
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        for key in sorted(set(section) - known):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
            raise ValueError(f"unknown key {key!r}{hint}")
        if isinstance(section.get("compare"), (int, float)):  # a short hash YAML read as a number
            section["compare"] = str(section["compare"])
        out = cls(**section)
        out.validate()
        return out

    def validate(self) -> None:
        for name in ("clip_frames", "clip_stride"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("worst_frames", "crop_samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.compare is not None and not isinstance(self.compare, str):
            raise ValueError(f"compare must be null or a revision name, got {self.compare!r}")
