"""The named 2D sources of params.yaml (``inputs_2d``), each made into one checked file.

An entry is a VideoPose3D-format file (``file``: the ground truth ``convert`` writes, or
detections), optionally through the noise model (``noise``, with ``scores`` for
confidences), with NaN joints filled by a rule (``fill``). Lifting experiments name an entry
in ``input_2d`` / ``eval_input_2d``, the priors in ``priors.input_2d``. Materialising each
entry once, into ``data/processed/inputs_2d/<name>.npz``, gives DVC one file to depend on per
source: a change to a detections file re-runs the stages that read it and no others.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.detections.fill import check_fill, fill_missing
from pose3d.detections.load import DetectionsError, Positions2D, frame_counts, listing, load_detections, vp3d_metadata
from pose3d.detections.noise import NoiseParams, noisy_positions_2d
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.vp3d_format import load_2d

INPUTS_DIR = Path("data/processed/inputs_2d")
KEYS = ("file", "noise", "scores", "fill", "partial")


@dataclass(frozen=True)
class Source2D:
    """One ``inputs_2d`` entry."""

    name: str
    file: Path
    noise: NoiseParams | None = None
    scores: bool = False  # with noise: a confidence column from the noise model
    fill: str | None = None  # rule for NaN joints (pose3d.detections.fill); None: NaN is an error
    partial: bool = False  # the file may hold only some sequences (detections of the videos there are)

    @classmethod
    def from_params(cls, params: Mapping, name: str) -> Source2D:
        entries = params.get("inputs_2d") or {}
        if name not in entries:
            raise KeyError(f"2D source {name!r} is not an entry of inputs_2d (have {', '.join(entries) or 'none'})")
        cfg = dict(entries[name] or {})
        unknown = sorted(set(cfg) - set(KEYS))
        if unknown:
            raise ValueError(f"inputs_2d.{name}: unknown key(s) {unknown}; known: {list(KEYS)}")
        if not cfg.get("file"):
            raise ValueError(f"inputs_2d.{name}: 'file' (a VideoPose3D-format 2D file) is required")
        noise = NoiseParams.from_dict(cfg["noise"]) if cfg.get("noise") is not None else None
        scores = bool(cfg.get("scores", False))
        if scores and noise is None:
            raise ValueError(f"inputs_2d.{name}: scores come from the noise model; give 'noise' or drop 'scores'")
        fill = check_fill(cfg["fill"]) if cfg.get("fill") is not None else None
        return cls(name, Path(cfg["file"]), noise, scores, fill, bool(cfg.get("partial", False)))

    @property
    def path(self) -> Path:
        """Where the materialised source lies."""
        return INPUTS_DIR / f"{self.name}.npz"

    def materialised(self, root: Path = Path(".")) -> Path:
        """:attr:`path` under ``root``, or FileNotFoundError saying which stage makes it (for every reader)."""
        path = Path(root) / self.path
        if not path.is_file():
            raise FileNotFoundError(f"{self.path}: missing (run the inputs_2d@{self.name} stage first)")
        return path

    def describe(self) -> str:
        how = [str(self.file)]
        if self.noise is not None:
            how.append(f"noise sigma {self.noise.sigma_px:g} px, outliers {self.noise.outlier_prob:g}, "
                       f"swaps {self.noise.swap_prob:g}, seed {self.noise.seed}" + (", scores" if self.scores else ""))
        if self.fill:
            how.append(f"fill {self.fill}")
        if self.partial:
            how.append("the sequences it holds")
        return "; ".join(how)


def materialise(source: Source2D, positions_3d: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[Positions2D, dict]:
    """The 2D of every sequence of ``positions_3d``, checked and truncated to the mocap, noised
    and filled as ``source`` says; with the metadata to write beside it. A ``partial`` source covers
    the sequences its file holds (each still checked: every camera, at least as long as the mocap)."""
    counts = frame_counts(positions_3d)
    if source.partial:
        counts = held_sequences(source.file, counts)
    views = load_detections(source.file, counts)
    if source.noise is not None:
        views = noisy_positions_2d(views, source.noise, scores=source.scores)
    holes = [f"{s}/{a} camera {c}: {int(np.isnan(v[..., :2]).any(-1).sum())} joints"
             for s, acts in views.items() for a, vs in acts.items() for c, v in enumerate(vs)
             if np.isnan(v[..., :2]).any()]
    if holes and source.fill is None:
        raise DetectionsError(f"{source.file}: missing joints (NaN) in {listing(holes, 5)}; "
                              f"set inputs_2d.{source.name}.fill (zero | interpolate | last)")
    if holes:
        views = {s: {a: [fill_missing(v, source.fill, _size(s, c)) for c, v in enumerate(vs)] for a, vs in acts.items()}
                 for s, acts in views.items()}
    widths = {v.shape[-1] for acts in views.values() for vs in acts.values() for v in vs}
    return views, vp3d_metadata(widths == {3}, source.describe())


def held_sequences(path: Path, counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The part of ``counts`` ({subject: {action: frames}}) that the 2D file ``path`` has; an error when nothing."""
    try:
        positions, _ = load_2d(path)
    except (OSError, ValueError, KeyError) as exc:
        raise DetectionsError(f"{path}: not a VideoPose3D 2D file ({type(exc).__name__}: {exc})") from None
    held = {s: {a: n for a, n in acts.items() if a in positions.get(s, {})} for s, acts in counts.items()}
    held = {s: acts for s, acts in held.items() if acts}
    if not held:
        raise DetectionsError(f"{path}: holds none of the mocap's sequences")
    return held


def _size(subject: str, camera: int) -> tuple[int, int]:
    cam = get_camera(subject, camera)
    return cam.width_px, cam.height_px

