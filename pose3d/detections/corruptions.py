"""Named corruptions of the ground-truth 2D for the robustness evaluation (``evaluate.robustness``).

Each entry is one setting of the noise model (:mod:`pose3d.detections.noise`) in which every
setting not given is zero, so ``{sigma_px: 5}`` is Gaussian jitter alone, ``{outlier_prob: 0.1}``
gross outliers alone, ``{swap_prob: 0.1}`` left/right swaps alone and ``{missing_prob: 0.1,
fill: last}`` missing joints filled by a rule (:mod:`pose3d.detections.fill`). Corruptions start
from the ground truth, so every experiment, whatever 2D it was trained or scored on, is measured
on the same inputs; the row ``gt`` is the ground truth itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pose3d.detections.fill import check_fill, fill_missing
from pose3d.detections.noise import NoiseParams, corrupt, sequence_rng

#: the noise-model settings a corruption names, in the order that decides its kind
LEVELS = {"sigma_px": "jitter", "outlier_prob": "outliers", "swap_prob": "swaps", "missing_prob": "missing"}
ZERO = {"sigma_px": 0.0, "outlier_prob": 0.0, "swap_prob": 0.0, "missing_prob": 0.0}
#: the name of the uncorrupted row
CLEAN = "gt"


@dataclass(frozen=True)
class Perturbation:
    """One named corruption: its noise model, fill rule, and (for tables and plots) kind and level."""

    name: str
    noise: NoiseParams  # all zero: the ground truth as it is
    fill: str = "interpolate"

    @property
    def kind(self) -> str:
        kinds = [k for f, k in LEVELS.items() if getattr(self.noise, f) > 0]
        return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none")

    @property
    def level(self) -> float:
        """The one non-zero setting (sigma in px, or a rate); NaN for mixed corruptions."""
        if self.kind == "none":
            return 0.0
        if self.kind == "mixed":
            return float("nan")
        field = next(f for f, k in LEVELS.items() if k == self.kind)
        return float(getattr(self.noise, field))

    def apply(self, gt: np.ndarray, subject: str, action: str, camera: int, size_px: tuple[int, int],
              scores: bool) -> np.ndarray:
        """The corrupted (N, 17, 2) pixels of one view, (N, 17, 3) with ``scores``; seeded per view."""
        c = corrupt(np.asarray(gt)[..., :2], self.noise, sequence_rng(self.noise, subject, action, camera), scores)
        pts = c.points_with_scores() if scores else c.points
        return fill_missing(pts, self.fill, size_px) if c.missing.any() else pts


def perturbations(cfg: Mapping | None) -> list[Perturbation]:
    """``gt`` first, then the entries of ``evaluate.robustness`` in order; bad entries are errors."""
    out = [Perturbation(CLEAN, NoiseParams(**ZERO))]  # with scores: the confidence of a perfect detection
    for name, entry in (cfg or {}).items():
        if name == CLEAN:
            raise ValueError(f"evaluate.robustness.{name}: the name {CLEAN!r} is the uncorrupted row")
        entry = dict(entry or {})
        fill = check_fill(entry.pop("fill", "interpolate"))
        try:
            noise = NoiseParams.from_dict({**ZERO, **entry})
        except ValueError as exc:
            raise ValueError(f"evaluate.robustness.{name}: {exc}") from None
        out.append(Perturbation(str(name), noise, fill))
    return out
