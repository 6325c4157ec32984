"""Pooling per-frame errors into the numbers papers report.

VideoPose3D, SRNet, RIE and RS-Net average per action group first (sub-actions "X" and
"X 1", every test subject and camera, frame-weighted) and then take the unweighted mean
of the groups: the "action-wise" average, the headline here. The frame-pooled mean
(each frame counts once, as in per-epoch validation or learnable-triangulation) is
reported beside it, since the two differ whenever groups have different frame counts.
Groups come from :func:`pose3d.h36m.sequences.action_group`: 'Sitting 1' -> 'Sitting',
never 'SittingDown'.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pose3d.h36m.sequences import ACTION_GROUPS, action_group
from pose3d.h36m.skeleton import H36M17

METRICS: tuple[str, ...] = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc")


@dataclass
class _Sums:
    """Running sum and count of one metric (float64, exact for any number of frames we meet)."""

    total: float = 0.0
    count: int = 0

    def add(self, values: np.ndarray) -> None:
        self.total += float(values.sum())
        self.count += int(values.size)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")


@dataclass
class _Sequence:
    subject: str
    key: str
    camera: str
    group: str
    frames: int
    sums: dict[str, _Sums] = field(default_factory=dict)
    joint_sum: np.ndarray | None = None  # (J,) sum over frames of per-joint errors
    joint_frames: int = 0


class ErrorAccumulator:
    """Collects per-frame errors of evaluated sequences and reports them per action group.

    ``add`` once per (subject, action key, camera); a second ``add`` of the same triple is
    refused, so that a sequence cannot be counted twice by mistake.
    """

    def __init__(self, joint_names: Sequence[str] = H36M17.joint_names):
        self.joint_names = tuple(joint_names)
        self._seqs: dict[tuple[str, str, str], _Sequence] = {}

    def __len__(self) -> int:
        return len(self._seqs)

    def add(
        self,
        subject: str,
        key: str,
        camera: str | int,
        metrics: Mapping[str, np.ndarray],
        joint_errors: np.ndarray | None = None,
    ) -> None:
        """Record one sequence's per-frame metric arrays and optionally its (N, J) joint errors.

        Arrays may differ in length (``mpjve`` has N-1 values); each metric is weighted by
        its own number of values. The sequence's frame count is the longest array.
        """
        ident = (str(subject), str(key), str(camera))
        if ident in self._seqs:
            raise ValueError(f"sequence {ident} was already added")
        arrays = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in metrics.items()}
        if not arrays and joint_errors is None:
            raise ValueError(f"sequence {ident}: no metrics given")
        seq = _Sequence(*ident, group=action_group(ident[1]), frames=max((a.size for a in arrays.values()), default=0))
        for name, a in arrays.items():
            seq.sums.setdefault(name, _Sums()).add(a)
        if joint_errors is not None:
            je = np.asarray(joint_errors, dtype=np.float64)
            if je.ndim != 2 or je.shape[1] != len(self.joint_names):
                raise ValueError(
                    f"sequence {ident}: joint errors must be (N, {len(self.joint_names)}), got {je.shape}")
            seq.joint_sum, seq.joint_frames = je.sum(axis=0), je.shape[0]
            seq.frames = max(seq.frames, je.shape[0])
        self._seqs[ident] = seq

    # ---- pooling -------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        """Metrics seen, the standard ones first in their usual order."""
        seen = {m for s in self._seqs.values() for m in s.sums}
        return [m for m in METRICS if m in seen] + sorted(seen - set(METRICS))

    def groups(self) -> list[str]:
        """Action groups seen, in the usual table order."""
        seen = {s.group for s in self._seqs.values()}
        return [g for g in ACTION_GROUPS if g in seen]

    def _pooled(self, seqs: list[_Sequence], metric: str) -> float:
        total = sum(s.sums[metric].total for s in seqs if metric in s.sums)
        count = sum(s.sums[metric].count for s in seqs if metric in s.sums)
        return total / count if count else float("nan")

    def per_action(self, averages: bool = False) -> pd.DataFrame:
        """One row per action group: frame-weighted metrics and a ``frames`` column.

        ``averages`` appends an 'Average' row (unweighted mean of the groups, the headline)
        and a 'Pooled' row (every frame weighted equally), as the papers' tables end.
        """
        names = self.metric_names()
        rows = {}
        for g in self.groups():
            seqs = [s for s in self._seqs.values() if s.group == g]
            rows[g] = {m: self._pooled(seqs, m) for m in names} | {"frames": sum(s.frames for s in seqs)}
        table = pd.DataFrame.from_dict(rows, orient="index", columns=[*names, "frames"])
        table.index.name = "action"
        if averages and rows:
            summary = self.summary()
            table.loc["Average"] = [summary[m] for m in names] + [summary["frames"]]
            table.loc["Pooled"] = [summary[f"{m}_pooled"] for m in names] + [summary["frames"]]
        table["frames"] = table["frames"].astype(np.int64)
        return table

    def per_joint(self) -> pd.DataFrame:
        """Mean error of each joint: ``mpjpe`` action-wise (mean of the group means, like the
        headline) and ``mpjpe_pooled`` (every frame equal), indexed by joint name."""
        seqs = [s for s in self._seqs.values() if s.joint_sum is not None]
        cols = ["mpjpe", "mpjpe_pooled"]
        if not seqs:
            return pd.DataFrame(columns=cols, index=pd.Index([], name="joint"), dtype=np.float64)
        pooled = sum(s.joint_sum for s in seqs) / sum(s.joint_frames for s in seqs)
        by_group = []
        for g in ACTION_GROUPS:
            gs = [s for s in seqs if s.group == g]
            if gs:
                by_group.append(sum(s.joint_sum for s in gs) / sum(s.joint_frames for s in gs))
        table = pd.DataFrame({"mpjpe": np.mean(by_group, axis=0), "mpjpe_pooled": pooled},
                             index=pd.Index(self.joint_names, name="joint"))
        return table

    def per_sequence(self) -> pd.DataFrame:
        """One row per added sequence (subject, key, camera, group, frames, metric means)."""
        names = self.metric_names()
        rows = [
            {"subject": s.subject, "key": s.key, "camera": s.camera, "action": s.group, "frames": s.frames}
            | {m: s.sums[m].mean if m in s.sums else float("nan") for m in names}
            for s in self._seqs.values()
        ]
        return pd.DataFrame(rows, columns=["subject", "key", "camera", "action", "frames", *names])

    def summary(self) -> dict:
        """Flat dict for ``eval.json``: ``<metric>`` is the action-wise mean (headline),
        ``<metric>_pooled`` the frame-pooled mean; plus frame, sequence and group counts."""
        names = self.metric_names()
        seqs = list(self._seqs.values())
        out: dict = {}
        for m in names:
            group_means = [self._pooled([s for s in seqs if s.group == g], m) for g in self.groups()]
            group_means = [v for v in group_means if not np.isnan(v)]
            out[m] = float(np.mean(group_means)) if group_means else float("nan")
        for m in names:
            out[f"{m}_pooled"] = self._pooled(seqs, m)
        out["frames"] = int(sum(s.frames for s in seqs))
        out["sequences"] = len(seqs)
        out["actions"] = len(self.groups())
        return out
