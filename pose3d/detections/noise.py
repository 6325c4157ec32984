"""A detector-like corruption of ground-truth 2D joints: jitter, gross outliers, left/right swaps.

Ground-truth projections make triangulation (and lifting) look perfect; real detectors
(CPN, Detectron, hourglass) are a few pixels off everywhere, far off now and then, and
sometimes mistake the left limb for the right. This model reproduces those three failure
kinds with explicit, seeded parameters, so that an experiment on "noisy" 2D is
repeatable byte for byte.

Per (frame, view) of a 17-joint Human3.6M sequence, in this order:

1. **swaps**: with probability ``swap_prob`` per limb chain (legs: hip-knee-ankle, arms:
   shoulder-elbow-wrist), the left and right chains exchange positions;
2. **jitter**: isotropic Gaussian noise of standard deviation ``sigma_px`` times the
   joint's ``joint_sigma_scale`` entry, per coordinate;
3. **gross outliers**: with probability ``outlier_prob`` per joint, the point moves in a
   uniformly random direction by ``outlier_px`` x U(0.5, 1.5) pixels;
4. **missing joints**: with probability ``missing_prob`` per joint, the point becomes NaN
   (:mod:`pose3d.detections.fill` fills it by the consumer's rule) and its score 0.

**Confidences** (``scores=True``): a detector is less sure where it is wrong, so each joint's
score is ``exp(-e^2 / (2 score_px^2))`` of its displacement ``e`` from the truth, times
U(0.8, 1) so that the score is not an exact oracle of the error. Steps 1-3 draw the same
numbers whether or not scores or missing joints are asked for: switching them on leaves the
positions of an existing configuration unchanged.

Random numbers come from a numpy Generator seeded by ``seed`` and the (subject, action,
camera) names, so a sequence gets the same noise whichever other sequences are present.
"""
from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pose3d.h36m.skeleton import H36M17

#: Left/right chains swapped together (17-joint indices): legs, arms.
SWAP_CHAINS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((4, 5, 6), (1, 2, 3)),
    ((11, 12, 13), (14, 15, 16)),
)


@dataclass(frozen=True)
class NoiseParams:
    """Parameters of the 2D noise model (the ``priors.noise`` section of params.yaml)."""

    sigma_px: float = 3.0
    joint_sigma_scale: tuple[float, ...] | None = None  # one factor per joint; None: all 1
    outlier_prob: float = 0.01
    outlier_px: float = 100.0
    swap_prob: float = 0.005
    seed: int = 0
    missing_prob: float = 0.0
    score_px: float = 20.0

    def __post_init__(self) -> None:
        for name in ("sigma_px", "outlier_px", "score_px"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"noise.{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        for name in ("outlier_prob", "swap_prob", "missing_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"noise.{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        if self.joint_sigma_scale is not None:
            s = np.asarray(self.joint_sigma_scale, dtype=np.float64)
            if s.ndim != 1 or not (np.isfinite(s).all() and (s >= 0).all()):
                raise ValueError(f"noise.joint_sigma_scale must be numbers >= 0, got {self.joint_sigma_scale!r}")

    @classmethod
    def from_dict(cls, cfg: Mapping | None) -> NoiseParams:
        """From a params.yaml section; unknown keys are an error (a typo must not be ignored)."""
        cfg = dict(cfg or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"unknown noise parameter(s) {unknown}; known: {sorted(known)}")
        try:
            if cfg.get("joint_sigma_scale") is not None:
                cfg["joint_sigma_scale"] = tuple(float(x) for x in cfg["joint_sigma_scale"])
            for k in ("sigma_px", "outlier_prob", "outlier_px", "swap_prob", "missing_prob", "score_px"):
                if k in cfg:
                    cfg[k] = float(cfg[k])
            if "seed" in cfg:
                cfg["seed"] = int(cfg["seed"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"noise parameters {cfg}: {exc}") from None
        return cls(**cfg)

    def sigmas(self, num_joints: int) -> np.ndarray:
        """Per-joint standard deviation in pixels, (J,)."""
        if self.joint_sigma_scale is None:
            return np.full(num_joints, self.sigma_px)
        if len(self.joint_sigma_scale) != num_joints:
            n = len(self.joint_sigma_scale)
            raise ValueError(f"noise.joint_sigma_scale has {n} entries for {num_joints} joints")
        return self.sigma_px * np.asarray(self.joint_sigma_scale, dtype=np.float64)


def sequence_rng(params: NoiseParams, *names: str | int) -> np.random.Generator:
    """A Generator for one sequence, from the seed and stable (crc32) hashes of its names."""
    key = [zlib.crc32(str(n).encode()) for n in names]
    return np.random.default_rng(np.random.SeedSequence(params.seed, spawn_key=key))


@dataclass(frozen=True)
class Corruption:
    """A noisy copy and what happened to it: ``outliers``, ``swapped`` and ``missing`` (N, J) masks;
    ``scores`` (N, J) when asked for."""

    points: np.ndarray
    outliers: np.ndarray
    swapped: np.ndarray
    missing: np.ndarray
    scores: np.ndarray | None = None

    def points_with_scores(self) -> np.ndarray:
        """(N, J, 3): the points with the scores as third column (needs ``scores``)."""
        return np.concatenate([self.points, self.scores[..., None]], axis=-1)


def corrupt(points: np.ndarray, params: NoiseParams, rng: np.random.Generator, scores: bool = False) -> Corruption:
    """Apply the model to (N, J, 2) pixels of one view; J must be 17 when swaps are enabled."""
    pts = np.asarray(points)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"expected (N, J, 2) pixel coordinates, got shape {pts.shape}")
    n, nj, _ = pts.shape
    dtype = pts.dtype if pts.dtype in (np.float32, np.float64) else np.float64
    out = pts.astype(np.float64, copy=True)
    swapped = np.zeros((n, nj), dtype=bool)
    if params.swap_prob > 0:
        if nj != H36M17.num_joints:
            raise ValueError(f"left/right swaps need the 17-joint Human3.6M order, got {nj} joints")
        for left, right in SWAP_CHAINS:
            hit = rng.random(n) < params.swap_prob
            lr, rl = list(left) + list(right), list(right) + list(left)
            out[np.ix_(hit, lr)] = out[np.ix_(hit, rl)]
            swapped[np.ix_(hit, lr)] = True
    out += rng.standard_normal((n, nj, 2)) * params.sigmas(nj)[None, :, None]
    outliers = rng.random((n, nj)) < params.outlier_prob
    k = int(outliers.sum())
    angle = rng.uniform(0.0, 2 * np.pi, k)
    length = params.outlier_px * rng.uniform(0.5, 1.5, k)
    out[outliers] += np.stack([np.cos(angle), np.sin(angle)], axis=-1) * length[:, None]
    missing = rng.random((n, nj)) < params.missing_prob if params.missing_prob > 0 else np.zeros((n, nj), dtype=bool)
    conf = None
    if scores:
        err = np.linalg.norm(out - pts, axis=-1)
        scale = max(params.score_px, 1e-9)
        conf = (np.exp(-0.5 * (err / scale) ** 2) * rng.uniform(0.8, 1.0, (n, nj))).astype(dtype)
        conf[missing] = 0.0
    out[missing] = np.nan
    return Corruption(out.astype(dtype), outliers, swapped, missing, conf)


def add_noise(points: np.ndarray, params: NoiseParams, rng: np.random.Generator, scores: bool = False) -> np.ndarray:
    """The noisy copy only: (N, J, 2), or (N, J, 3) with the score as third column (see :func:`corrupt`)."""
    c = corrupt(points, params, rng, scores)
    return c.points if c.scores is None else c.points_with_scores()


def noisy_positions_2d(
    positions_2d: Mapping[str, Mapping[str, list[np.ndarray]]], params: NoiseParams, scores: bool = False
) -> dict[str, dict[str, list[np.ndarray]]]:
    """A noisy copy of a VideoPose3D ``positions_2d`` dict ({subject: {action: [views]}}).

    The result has the same structure, dtypes and shapes (with ``scores`` a third column per
    joint), so any stage that reads 2D inputs (lifting, triangulation) can take it in place of
    the ground truth. Only x, y of the input are read.
    """
    return {
        subject: {
            action: [add_noise(np.asarray(v)[..., :2], params, sequence_rng(params, subject, action, cam), scores)
                     for cam, v in enumerate(views)]
            for action, views in actions.items()
        }
        for subject, actions in positions_2d.items()
    }
