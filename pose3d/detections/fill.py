"""Filling missing 2D joints (NaN) before a lifting model sees them.

A detector that loses a joint leaves a hole; lifting networks need a number there. Three
rules, chosen per consumer with a ``fill`` key:

- ``zero``: the joint at the image centre, the pixel that the ``base`` normalisation maps to
  (0, 0), so the network sees a zero input there (what masking-trained models expect);
- ``interpolate``: linear in time between the joint's nearest detected frames, held constant
  before the first and after the last;
- ``last``: the last detected position (the first one before any was seen).

A joint never seen in the whole sequence goes to the image centre under every rule. Scores,
when present (third column), of filled joints are set to 0: the fill is a guess.
"""
from __future__ import annotations

import numpy as np

FILLS: tuple[str, ...] = ("zero", "interpolate", "last")


def check_fill(rule: str) -> str:
    if rule not in FILLS:
        raise ValueError(f"unknown fill rule {rule!r}; choose one of {', '.join(FILLS)}")
    return rule


def fill_missing(points: np.ndarray, rule: str, size_px: tuple[int, int]) -> np.ndarray:
    """A copy of (N, J, C) pixels (C = 2, or 3 with scores) with NaN x/y filled by ``rule``.

    ``size_px`` is the image (width, height); its centre is the ``zero`` fill.
    """
    check_fill(rule)
    pts = np.array(points, copy=True)
    hole = np.isnan(pts[..., :2]).any(axis=-1)  # (N, J)
    if not hole.any():
        return pts
    centre = np.array([size_px[0] / 2.0, size_px[1] / 2.0], dtype=pts.dtype)
    n = pts.shape[0]
    frames = np.arange(n)
    for j in np.flatnonzero(hole.any(axis=0)):
        seen = ~hole[:, j]
        if rule == "zero" or not seen.any():
            pts[hole[:, j], j, :2] = centre
        elif rule == "interpolate":
            for c in range(2):
                pts[:, j, c] = np.interp(frames, frames[seen], pts[seen, j, c])
        else:  # last seen value, the first one before any
            idx = np.where(seen, frames, -1)
            idx = np.maximum.accumulate(idx)
            idx[idx < 0] = np.flatnonzero(seen)[0]
            pts[:, j, :2] = pts[idx, j, :2]
    if pts.shape[-1] > 2:
        pts[..., 2][hole] = 0.0
    return pts
