"""Pelvis priors from a chosen source: a model's predictions replace the triangulated frames it has.

``priors.source`` says where the pelvis comes from: ``triangulation`` (the multi-view DLT of
:mod:`pose3d.priors.pelvis`) or ``algebraic:<experiment>`` (that algebraic experiment's
predictions, in the same format). Both are files ``data/processed/pelvis/<source>.npz``: a DVC
dependency can be templated from a param but not made conditional. The triangulation is always
read too, so a frame the source did not predict (``valid`` False at the pelvis) keeps its
triangulated pose and the volumetric models get a cuboid centre on every frame. A frame is taken
whole (all 17 joints, views, errors), so its joints never mix two sources.
"""
from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pose3d.priors.pelvis import SequencePrior, load_pelvis_priors

TRIANGULATION = "triangulation"
#: the fields a source must give for every sequence (error_mm too where the triangulation has it)
REQUIRED = ("keypoints_3d", "valid", "inlier_views")

Arrays = Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]


class PelvisSourceError(ValueError):
    """A pelvis file that cannot be read or merged; the message names the file and the sequence."""


def source_file(folder: Path, source: str) -> Path:
    """Where ``priors.source`` lives: ``<folder>/<source>.npz`` (``algebraic:<experiment>.npz``, colon kept)."""
    return Path(folder) / f"{source}.npz"


def read_priors(path: Path, missing_hint: str) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``load_pelvis_priors`` of ``path``; a missing or unreadable file is a :class:`PelvisSourceError`."""
    if not Path(path).is_file():
        raise PelvisSourceError(f"{path}: missing ({missing_hint})")
    try:
        return load_pelvis_priors(path)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise PelvisSourceError(f"{path}: not a readable pelvis priors npz ({exc})") from None


def merge_priors(triangulation: Arrays, source: Arrays, source_path: Path) -> dict[str, dict[str, SequencePrior]]:
    """Every sequence of ``triangulation``, with the frames where ``source`` has a valid pelvis
    replaced by the source's; ``from_source`` marks them. The source must hold every sequence of
    the triangulation with its frame count (else :class:`PelvisSourceError`)."""
    merged: dict[str, dict[str, SequencePrior]] = {}
    for s, actions in triangulation.items():
        if s not in source:
            first = next(iter(actions), "")
            raise PelvisSourceError(f"{source_path}: has no subject {s} (the triangulation has {s}/{first} "
                                    f"and {len(actions) - 1} other sequences of it)")
        for a, tri in actions.items():
            if a not in source[s]:
                raise PelvisSourceError(f"{source_path}: has no sequence {s}/{a}, which the triangulation has")
            merged.setdefault(s, {})[a] = merge_sequence(tri, source[s][a], f"{source_path}: {s}/{a}")
    return merged


def merge_sequence(tri: Mapping[str, np.ndarray], src: Mapping[str, np.ndarray], where: str) -> SequencePrior:
    """One sequence (see :func:`merge_priors`); ``where`` ("<file>: <S>/<action>") starts every error."""
    fields = REQUIRED + (("error_mm",) if "error_mm" in tri else ())
    absent = [f for f in fields if f not in src]
    if absent:
        raise PelvisSourceError(f"{where} has no {', '.join(absent)}")
    n, m = len(tri["keypoints_3d"]), len(src["keypoints_3d"])
    if m != n:
        raise PelvisSourceError(f"{where} has {m} frames, the triangulation {n}")
    for f in fields:
        if np.shape(src[f]) != np.shape(tri[f]):
            raise PelvisSourceError(f"{where} {f} has shape {np.shape(src[f])}, the triangulation {np.shape(tri[f])}")
    take = np.asarray(src["valid"], dtype=bool)[:, 0]
    bad = int((~np.isfinite(src["keypoints_3d"][take, 0]).all(axis=-1)).sum())
    if bad:
        raise PelvisSourceError(f"{where} has {bad} frames whose pelvis is valid but not finite")

    def pick(f: str) -> np.ndarray:
        t = np.asarray(tri[f])
        mask = take.reshape((n,) + (1,) * (t.ndim - 1))
        return np.where(mask, np.asarray(src[f]).astype(t.dtype), t)

    return SequencePrior(pick("keypoints_3d"), pick("valid"), pick("inlier_views"),
                         pick("error_mm") if "error_mm" in fields else None, from_source=take)


class _Pelvis:
    """Frame counts and the sum of pelvis errors (mm, valid pelvis only) of one group."""

    def __init__(self) -> None:
        self.frames = self.valid = self.taken = self.n = 0
        self.sum = 0.0

    def add(self, error_mm: np.ndarray | None, valid: np.ndarray, taken: np.ndarray | None = None) -> None:
        valid = np.asarray(valid, dtype=bool)
        self.frames += len(valid)
        self.valid += int(valid.sum())
        self.taken += 0 if taken is None else int(taken.sum())
        if error_mm is not None:
            e = np.asarray(error_mm, dtype=np.float64)[valid]
            self.sum += float(e.sum())
            self.n += e.size

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else float("nan")


def merge_metrics(merged: Mapping[str, Mapping[str, SequencePrior]], triangulation: Arrays, source: str) -> dict:
    """The merged priors' pelvis error (frame-pooled, valid pelvis only) overall and per subject, the
    fraction of frames taken from ``source``, and on those frames the source's pelvis error beside
    the triangulation's (where it is valid there): what replacing the triangulation gains."""
    total, src_err, tri_err, subjects = _Pelvis(), _Pelvis(), _Pelvis(), {}
    for s, actions in merged.items():
        for a, p in actions.items():
            take, tri = p.from_source, triangulation[s][a]
            err = None if p.error_mm is None else p.error_mm[:, 0]
            for acc in (total, subjects.setdefault(s, _Pelvis())):
                acc.add(err, p.valid[:, 0], take)
            src_err.add(None if err is None else err[take], p.valid[take, 0])
            tri_err.add(tri["error_mm"][take, 0] if "error_mm" in tri else None, tri["valid"][take, 0])

    def summary(acc: _Pelvis) -> dict:
        return {"frames": acc.frames, "from_source_fraction": acc.taken / acc.frames if acc.frames else float("nan"),
                "pelvis_error_mm": acc.mean, "valid_pelvis_fraction": acc.valid / acc.frames if acc.frames else float("nan")}

    return {
        "source": source,
        **summary(total),
        "from_source_frames": total.taken,
        "on_source_frames": {"frames": src_err.frames,
                             "source_pelvis_error_mm": src_err.mean,
                             "triangulation_pelvis_error_mm": tri_err.mean,
                             "triangulation_valid_frames": tri_err.valid},
        "per_subject": {s: summary(acc) for s, acc in subjects.items()},
    }
