"""The official sequence table (metadata.xml ``mapping`` + ``frames``) and the exclusion rules.

Sequences are looked up by the table, never by globbing action prefixes: ``Sitting*``
matches ``SittingDown``, and file numbers are not sub-action numbers.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence as Seq
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pose3d.h36m.cameras import CAMERA_IDS

#: The 15 action groups used for reporting (VideoPose3D / 3d-pose-baseline names).
ACTION_GROUPS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
#: Official action names (metadata ``actionnames``) -> reporting group.
OFFICIAL_TO_GROUP: dict[str, str] = {
    **{a: a for a in ACTION_GROUPS},
    "TakingPhoto": "Photo",
    "WalkingDog": "WalkDog",
    "WalkingTogether": "WalkTogether",
}
#: S1's file names that VideoPose3D canonicalises.
KEY_RENAMES: dict[str, str] = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


@dataclass(frozen=True)
class SequenceInfo:
    """One row of the official table: a (subject, action, sub-action) recording."""

    subject: str
    action_id: int  # official id, 1 = Miscellaneous (_ALL), 2..16 the actions
    action: str  # official action name, e.g. 'TakingPhoto'
    subaction: int  # 1 or 2 (metadata sub-action, not the file suffix)
    file_base: str  # official <Seq>, e.g. 'TakingPhoto 1'
    key: str  # canonical VideoPose3D key, e.g. 'Photo 1' ('' for _ALL)
    folder: str  # h36m-fetch / learnable-triangulation folder, e.g. 'TakingPhoto-1'
    video_frames: tuple[int, int, int, int]  # per camera, canonical order
    mocap_frames_200hz: int
    pose_frames: int
    note: str

    @property
    def group(self) -> str:
        """Reporting action group ('Photo', 'WalkDog', ...); '' for _ALL."""
        return OFFICIAL_TO_GROUP.get(self.action, "")

    @property
    def is_action(self) -> bool:
        """False for the `_ALL` (Miscellaneous) videos that have no pose files."""
        return self.action_id >= 2


def canonical_key(file_base: str) -> str:
    """VideoPose3D's action key of a file base name (TakingPhoto->Photo, WalkingDog->WalkDog)."""
    head, sep, tail = file_base.partition(" ")
    return KEY_RENAMES.get(head, head) + sep + tail


def action_group(key: str) -> str:
    """Action group of a canonical key by exact match of the first word (never a prefix)."""
    head = key.split(" ")[0]
    group = OFFICIAL_TO_GROUP.get(head)
    if group is None:
        raise ValueError(f"{key!r} is not a Human3.6M action key")
    return group


@lru_cache(maxsize=1)
def load_table() -> tuple[SequenceInfo, ...]:
    """Every row of the official table, all 11 subjects, including the `_ALL` videos."""
    text = resources.files("pose3d.h36m").joinpath("data/sequences.csv").read_text()
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            SequenceInfo(
                subject=r["subject"],
                action_id=int(r["action_id"]),
                action=r["action"],
                subaction=int(r["subaction"]),
                file_base=r["file_base"],
                key=r["vp3d_key"],
                folder=r["folder"],
                video_frames=tuple(int(r[f"video_frames_{c}"]) for c in CAMERA_IDS),
                mocap_frames_200hz=int(r["mocap_frames_200hz"]),
                pose_frames=int(r["pose_frames"]),
                note=r["note"],
            )
        )
    return tuple(rows)


def subject_sequences(subject: str) -> list[SequenceInfo]:
    """The 30 action sequences of a subject, in table order (no `_ALL`)."""
    rows = [s for s in load_table() if s.subject == subject and s.is_action]
    if not rows:
        raise ValueError(f"unknown Human3.6M subject {subject!r}")
    return rows


def lookup(subject: str, file_base: str) -> SequenceInfo:
    for s in load_table():
        if s.subject == subject and s.file_base == file_base:
            return s
    raise KeyError(f"{subject}/{file_base!r} is not in the Human3.6M sequence table")


@dataclass(frozen=True)
class ExclusionRule:
    """Drops a sequence (all cameras, or the listed ones) from the exported data.

    ``action`` matches the canonical key exactly (e.g. 'Directions', not 'Directions 1').
    """

    name: str
    subject: str
    key: str
    cameras: tuple[str, ...] = ()  # empty: the whole sequence
    reason: str = ""

    def matches(self, seq: SequenceInfo) -> bool:
        return seq.subject == self.subject and seq.key == self.key


#: Known problems of the official release, selectable by name in params.yaml.
EXCLUSION_RULES: dict[str, ExclusionRule] = {
    r.name: r
    for r in (
        ExclusionRule(
            "s11_directions", "S11", "Directions",
            reason="camera 54138969 video corrupted in the original release; VideoPose3D drops all four cameras",
        ),
        ExclusionRule(
            "s11_directions_cam54138969", "S11", "Directions", ("54138969",),
            reason="learnable-triangulation / ContextPose / Integral drop only the broken view",
        ),
        ExclusionRule("s9_greeting", "S9", "Greeting", reason="damaged: poses cover about half of the video"),
        ExclusionRule("s9_sittingdown_1", "S9", "SittingDown 1", reason="damaged: poses cover about half of the video"),
        ExclusionRule("s9_waiting_1", "S9", "Waiting 1", reason="damaged: poses cover about half of the video"),
        ExclusionRule("s9_walking", "S9", "Walking", reason="pose count about half the video (unconfirmed damage)"),
    )
}


def resolve_rules(names: Iterable[str]) -> list[ExclusionRule]:
    """Rules by name; an unknown name is an error (a typo must not silently keep data)."""
    rules = []
    for n in names:
        if n not in EXCLUSION_RULES:
            raise ValueError(f"unknown exclusion rule {n!r}; known: {', '.join(EXCLUSION_RULES)}")
        rules.append(EXCLUSION_RULES[n])
    return rules


def excluded_cameras(seq: SequenceInfo, rules: Seq[ExclusionRule]) -> tuple[str, ...]:
    """Cameras of ``seq`` removed by ``rules`` (all four when a whole-sequence rule matches)."""
    dropped: set[str] = set()
    for r in rules:
        if r.matches(seq):
            dropped.update(r.cameras or CAMERA_IDS)
    return tuple(c for c in CAMERA_IDS if c in dropped)
