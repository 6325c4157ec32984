"""``sequences.csv``: convert's one row per sequence, and the exclusions read back from it.

``convert`` applies the rules of ``dataset.exclude`` once and records the outcome in each
row; every later stage (frames, priors, train, evaluate) reads it here instead of applying
the rules again, so no stage can drop a different view than the data it was given.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.sequences import ExclusionRule, SequenceInfo, excluded_cameras
from pose3d.io.atomic import replacing

FILE_NAME = "sequences.csv"
#: columns the reader needs; ``excluded_reason`` is read when present
REQUIRED: tuple[str, ...] = ("subject", "key", "excluded", "excluded_cameras")

View = tuple[str, str, int]  # subject, action key, camera index
SeqKey = tuple[str, str]  # subject, action key


class SequencesCsvError(ValueError):
    """``sequences.csv`` is missing or does not hold what convert writes."""

    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


def exclusion_columns(seq: SequenceInfo, rules: Sequence[ExclusionRule]) -> dict:
    """The exclusion columns of ``seq``'s row: whole sequence or not, camera ids, matching rules and why."""
    dropped = excluded_cameras(seq, rules)
    return {
        "excluded": len(dropped) == len(CAMERA_IDS),
        "excluded_cameras": " ".join(dropped),
        "excluded_reason": "; ".join(f"{r.name}: {r.reason}" for r in rules if r.matches(seq)),
    }


def write_sequences_csv(path: Path | str, rows: Sequence[Mapping]) -> None:
    """One row per sequence, columns in the order of the first row, replaced atomically."""
    if not rows:
        raise ValueError(f"{path}: no sequences to write")
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class Exclusions:
    """What convert excluded: camera indices per (subject, action key); all four for a whole sequence."""

    cameras: Mapping[SeqKey, tuple[int, ...]] = field(default_factory=dict)
    reasons: Mapping[SeqKey, str] = field(default_factory=dict)

    @property
    def whole(self) -> frozenset[SeqKey]:
        """Sequences excluded on every camera (absent from the npz files)."""
        return frozenset(k for k, c in self.cameras.items() if len(c) == len(CAMERA_IDS))

    def of(self, subject: str, key: str) -> tuple[int, ...]:
        """Excluded camera indices of one sequence (empty when none)."""
        return self.cameras.get((subject, key), ())

    def reason(self, subject: str, key: str) -> str:
        return self.reasons.get((subject, key), "")

    def of_subject(self, subject: str) -> dict[str, tuple[int, ...]]:
        """{action key: excluded camera indices} of one subject."""
        return {k: c for (s, k), c in self.cameras.items() if s == subject}

    def views(self) -> frozenset[View]:
        """Every excluded (subject, action key, camera index)."""
        return frozenset((s, k, c) for (s, k), cams in self.cameras.items() for c in cams)


def read_exclusions(path: Path | str) -> Exclusions:
    """The exclusions recorded in convert's ``sequences.csv``. Raises SequencesCsvError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SequencesCsvError(path, "sequence table is missing (run the convert stage first)")
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise SequencesCsvError(path, f"no column {', '.join(missing)} (an older convert's? re-run it)")
            rows = list(enumerate(reader, start=2))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SequencesCsvError(path, f"not a readable CSV file ({exc})") from exc
    if not rows:
        raise SequencesCsvError(path, "has no sequences")
    cameras: dict[SeqKey, tuple[int, ...]] = {}
    reasons: dict[SeqKey, str] = {}
    seen: set[SeqKey] = set()
    for line, row in rows:
        seq = (row["subject"] or "", row["key"] or "")
        if not all(seq):
            raise SequencesCsvError(path, f"line {line}: empty subject or key")
        if seq in seen:
            raise SequencesCsvError(path, f"line {line}: {seq[0]} {seq[1]!r} appears twice")
        seen.add(seq)
        whole = _flag(path, line, row["excluded"])
        ids = (row["excluded_cameras"] or "").split()
        unknown = [c for c in ids if c not in CAMERA_IDS]
        if unknown:
            raise SequencesCsvError(path, f"line {line}: unknown camera {', '.join(unknown)} in excluded_cameras "
                                          f"(cameras are {', '.join(CAMERA_IDS)})")
        if whole != (set(ids) == set(CAMERA_IDS)):
            raise SequencesCsvError(path, f"line {line}: excluded={row['excluded']} disagrees with "
                                          f"excluded_cameras {' '.join(ids) or '(none)'}")
        if ids:
            cameras[seq] = tuple(sorted(CAMERA_IDS.index(c) for c in set(ids)))
            reasons[seq] = row.get("excluded_reason") or ""
    return Exclusions(cameras, reasons)


def _flag(path: Path, line: int, text: str | None) -> bool:
    if text not in ("True", "False"):
        raise SequencesCsvError(path, f"line {line}: excluded is {text!r}, expected True or False")
    return text == "True"
