"""Everything the report reads, gathered from the workspace; any part may be absent.

The report runs after whatever stages happened to succeed, so each reader returns None
(or an experiment with a status) for a missing file, and a file that exists but cannot be
parsed is named in ``problems`` instead of stopping the report.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pose3d.experiments import SECTIONS as EXPERIMENT_SECTIONS

#: Where the stages write, relative to the project root (see DESIGN.md, data contracts).
POSES = Path("data/processed/poses")
METRICS = Path("data/metrics")
MODELS = Path("data/models")
PRIORS = Path("data/processed/priors")
FRAMES = Path("data/processed/frames")
#: The columns evaluate writes to ``data/metrics/<name>/robustness.csv`` (one row per corruption).
ROBUSTNESS_COLUMNS = ("experiment", "corruption", "kind", "level", "fill", "mpjpe", "p_mpjpe", "mpjpe_pooled",
                      "p_mpjpe_pooled", "frames")


@dataclass
class DataInputs:
    """What ``synthesize``/``convert`` recorded about the source and its sequences."""

    source: str
    raw_dir: str
    train_subjects: list[str]
    test_subjects: list[str]
    exclude: list[str]
    reproj_tol_px: float | None
    manifest: dict | None = None  # the stand-in's synthetic_manifest.json
    sequences: pd.DataFrame | None = None  # convert's sequences.csv
    provenance: dict | None = None  # data/processed/poses.provenance.json


class StageState:
    """How far a run's stages got, from the files they left (``eval``, ``model_info``)."""

    eval: dict | None
    model_info: dict | None

    @property
    def evaluated(self) -> bool:
        return self.eval is not None

    @property
    def status(self) -> str:
        if self.evaluated:
            return "evaluated"
        if self.model_info is not None:
            return "trained; evaluation failed or not run"
        return "failed or not run"


@dataclass
class ExperimentRun(StageState):
    """One entry of ``experiments:`` and whatever its train/evaluate stages left behind."""

    name: str
    config: dict  # resolved (train overlaid with the entry)
    config_error: str = ""
    parameters: int | None = None  # trainable values of the network the config builds
    planned_receptive_field: int | None = None  # of that network, known before training
    eval: dict | None = None
    per_action: pd.DataFrame | None = None
    per_joint: pd.DataFrame | None = None
    robustness: pd.DataFrame | None = None  # robustness.csv: scored under each corruption of the gt 2D
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)  # 'train/loss' -> step, value
    model_info: dict | None = None  # data/models/<name>/config.json
    eval_provenance: dict | None = None
    training_provenance: dict | None = None
    clip: object | None = None  # pose3d.report.animation.Clip, attached by the caller
    clip_note: str = ""

    @property
    def headline_set(self) -> str | None:
        """The test set whose numbers are the headline (evaluate's ``headline_set``; for older files:
        test, else the first)."""
        sets = list((self.eval or {}).get("test_sets") or {})
        if (self.eval or {}).get("headline_set") in sets:
            return self.eval["headline_set"]
        for name in ("test",):
            if name in sets:
                return name
        return sets[0] if sets else None

    def rows_of(self, table: pd.DataFrame | None) -> pd.DataFrame | None:
        """The rows of a per-action/per-joint table that belong to the headline test set."""
        if table is None:
            return None
        if "test_set" in table.columns and self.headline_set is not None:
            sel = table[table["test_set"] == self.headline_set]
            return sel if len(sel) else table
        return table

    @property
    def receptive_field(self) -> int | None:
        return (self.model_info or {}).get("receptive_field", self.planned_receptive_field)

    @property
    def epochs_run(self) -> int | None:
        for name, curve in self.curves.items():
            if name.startswith("train/"):
                return len(curve)
        return None

    @property
    def training(self) -> dict:
        """Device, processes and seconds of the training run (``data/models/<name>.provenance.json``)."""
        return self.training_provenance or (self.model_info or {}).get("provenance") or {}


@dataclass
class PriorsInputs:
    metrics: dict  # data/metrics/priors.json (the triangulation); {} when absent
    pelvis: dict | None = None  # data/metrics/pelvis_priors.json: the pelvis source the priors use, and its error
    limb_names: list[str] | None = None
    limb_mean_mm: np.ndarray | None = None
    limb_std_mm: np.ndarray | None = None
    limb_count: int | None = None
    provenance: dict | None = None


@dataclass
class SubjectFrames:
    subject: str
    folder: Path
    report: dict | None
    videos: pd.DataFrame | None
    index_rows: int


@dataclass
class ReportInputs:
    root: Path
    params: dict
    data: DataInputs
    experiments: list[ExperimentRun]
    priors: PriorsInputs | None
    frames: list[SubjectFrames]
    image_experiments: list = field(default_factory=list)  # pose3d.report.image_runs.ImageRun, params order
    multiview_experiments: list = field(default_factory=list)  # pose3d.report.multiview_runs.MultiviewRun
    problems: list[str] = field(default_factory=list)
    git_revision: str = "unknown"
    versions: dict = field(default_factory=dict)
    device: str = ""
    compare: dict | None = None  # {'rev', 'params', 'metrics', 'warnings'}: the diff JSON of DVC


class _Reader:
    """Reads files under ``root``; absent files give None, broken ones a problem line and None."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.problems: list[str] = []

    def json(self, rel: Path | str) -> dict | None:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            self.problems.append(f"{rel}: unreadable JSON ({exc})")
            return None

    def csv(self, rel: Path | str, required: tuple[str, ...] = (), **kw) -> pd.DataFrame | None:
        path = self.root / rel
        if not path.is_file():
            return None
        try:
            df = pd.read_csv(path, **kw)
        except (OSError, ValueError) as exc:
            self.problems.append(f"{rel}: unreadable CSV ({exc})")
            return None
        missing = [c for c in required if c not in df.columns]
        if missing:
            self.problems.append(f"{rel}: missing column(s) {', '.join(missing)}")
            return None
        return df


def collect_inputs(root: Path | str, params: dict, configs: Mapping[str, dict | str] | None = None,
                   networks: Mapping[str, tuple[int, int]] | None = None) -> ReportInputs:
    """Gather every input under ``root``.

    ``configs`` maps each experiment and phase to its resolved config, or to the error that
    resolving it gave; by default the ``train`` section overlaid with the entry (a phase's own
    keys only). ``networks`` holds
    (parameter count, receptive field) of each experiment's network, when the caller built it.
    The entries of ``image_experiments:`` need neither: pose3d.report.image_runs reads them as
    they stand into ``image_experiments``; so does pose3d.report.multiview_runs for the multi-view
    sections, into ``multiview_experiments``.
    """
    root = Path(root)
    reader = _Reader(root)
    names = [n for sec in EXPERIMENT_SECTIONS for n in (params.get(sec) or {})]
    if configs is None:
        configs = {n: {**(params.get("train") or {}), **((params.get(sec) or {}).get(n) or {})}
                   for sec in EXPERIMENT_SECTIONS for n in (params.get(sec) or {})}
    experiments = [_experiment(reader, n, configs.get(n, {}), (networks or {}).get(n)) for n in names]
    from pose3d.report.image_runs import read_image_runs  # builds on _Reader and ExperimentRun above
    from pose3d.report.multiview_runs import read_multiview_runs

    return ReportInputs(
        root=root,
        params=params,
        data=_data(reader, params),
        experiments=experiments,
        priors=_priors(reader),
        frames=_frames(reader),
        image_experiments=read_image_runs(reader, params),
        multiview_experiments=read_multiview_runs(reader, params),
        problems=reader.problems,
    )


def _data(reader: _Reader, params: dict) -> DataInputs:
    ds = params.get("dataset") or {}
    raw_dir = str(ds.get("raw_dir", ""))
    tol = (params.get("convert") or {}).get("reproj_tol_px")
    seq = reader.csv(POSES / "sequences.csv", required=("subject", "key", "pose_frames", "excluded"))
    if seq is not None:
        seq["excluded"] = seq["excluded"].astype(str).str.lower() == "true"
        if "excluded_cameras" in seq.columns:
            seq["excluded_cameras"] = seq["excluded_cameras"].fillna("").astype(str)
    return DataInputs(
        source=str(ds.get("source", "unknown")),
        raw_dir=raw_dir,
        train_subjects=list(ds.get("train_subjects") or []),
        test_subjects=list(ds.get("test_subjects") or []),
        exclude=list(ds.get("exclude") or []),
        reproj_tol_px=None if tol is None else float(tol),
        manifest=reader.json(Path(raw_dir) / "synthetic_manifest.json") if raw_dir else None,
        sequences=seq,
        provenance=reader.json(POSES.parent / "poses.provenance.json"),
    )


def read_curves(folder: Path) -> dict[str, pd.DataFrame]:
    """DVCLive's ``plots/metrics/<group>/<name>.tsv`` files as {'<group>/<name>': frame(step, value)}."""
    curves = {}
    base = folder / "plots" / "metrics"
    for path in sorted(base.rglob("*.tsv")) if base.is_dir() else []:
        df = pd.read_csv(path, sep="\t")
        if "step" not in df.columns or len(df.columns) < 2:
            raise ValueError(f"{path}: expected a 'step' column and a value column")
        value = [c for c in df.columns if c not in ("step", "timestamp")][0]
        curves[path.relative_to(base).with_suffix("").as_posix()] = df[["step", value]].rename(columns={value: "value"})
    return curves


def _experiment(reader: _Reader, name: str, config: dict | str, network: tuple[int, int] | None) -> ExperimentRun:
    mdir = METRICS / name
    run = ExperimentRun(name=name, config=config if isinstance(config, dict) else {},
                        config_error=config if isinstance(config, str) else "")
    if network is not None:
        run.parameters, run.planned_receptive_field = network
    run.eval = reader.json(mdir / "eval.json")
    if run.eval is not None and not isinstance(run.eval.get("mpjpe"), (int, float)):
        reader.problems.append(f"{mdir / 'eval.json'}: no 'mpjpe' number")
        run.eval = None
    run.per_action = reader.csv(mdir / "per_action.csv", required=("action", "mpjpe", "p_mpjpe"))
    run.per_joint = reader.csv(mdir / "per_joint.csv", required=("joint", "mpjpe"))
    run.robustness = _robustness(reader, mdir / "robustness.csv")
    run.eval_provenance = reader.json(mdir / "eval.provenance.json")
    run.model_info = reader.json(MODELS / name / "config.json")
    run.training_provenance = reader.json(MODELS / f"{name}.provenance.json")
    if not run.config and run.model_info:
        run.config = dict(run.model_info.get("config") or {})
    try:
        run.curves = read_curves(reader.root / mdir / "train")
    except (OSError, ValueError) as exc:
        reader.problems.append(f"{mdir / 'train'}: unreadable training curves ({exc})")
    return run


def _robustness(reader: _Reader, rel: Path) -> pd.DataFrame | None:
    """robustness.csv with text columns as text (an empty ``fill`` is '') and numbers as numbers
    (a stray cell becomes NaN and shows as a gap, not a crash)."""
    df = reader.csv(rel, required=ROBUSTNESS_COLUMNS, dtype={"corruption": str, "kind": str, "fill": str})
    if df is None:
        return None
    df[["corruption", "kind", "fill"]] = df[["corruption", "kind", "fill"]].fillna("")
    for col in ("level", "mpjpe", "p_mpjpe", "mpjpe_pooled", "p_mpjpe_pooled", "frames"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def _priors(reader: _Reader) -> PriorsInputs | None:
    """The triangulation's metrics (triangulate stage) and the priors stage's pelvis source and limb statistics;
    None when neither metrics file is there."""
    metrics, pelvis = reader.json(METRICS / "priors.json"), reader.json(METRICS / "pelvis_priors.json")
    if metrics is None and pelvis is None:
        return None
    out = PriorsInputs(metrics=metrics or {}, pelvis=pelvis,
                       provenance=reader.json(PRIORS.parent / "priors.provenance.json"))
    path = reader.root / PRIORS / "limb_stats.h5"
    if path.is_file():
        try:
            import h5py

            from pose3d.priors.limbs import LIMB_NAMES

            with h5py.File(path, "r") as f:
                out.limb_mean_mm = np.asarray(f["mean"][:], dtype=float)
                out.limb_std_mm = np.asarray(f["std"][:], dtype=float)
                out.limb_count = int(f["count"][()]) if "count" in f else None
                names = f.attrs.get("limb_names")
                out.limb_names = str(names).split(",") if names is not None else list(LIMB_NAMES)
        except (OSError, KeyError, ValueError) as exc:
            reader.problems.append(f"{PRIORS / 'limb_stats.h5'}: unreadable ({exc})")
    return out


def _frames(reader: _Reader) -> list[SubjectFrames]:
    base = reader.root / FRAMES
    out = []
    for index in sorted(base.glob("*/index.csv")) if base.is_dir() else []:
        folder = index.parent
        rel = FRAMES / folder.name
        try:
            rows = sum(1 for _ in index.open()) - 1
        except OSError as exc:
            reader.problems.append(f"{rel / 'index.csv'}: unreadable ({exc})")
            continue
        out.append(SubjectFrames(
            subject=folder.name, folder=folder, report=reader.json(rel / "report.json"),
            videos=reader.csv(rel / "videos.csv", required=("key", "status")), index_rows=max(rows, 0),
        ))
    return out
