"""The multi-view experiments (``algebraic_experiments:``, ``volumetric_experiments:``) and what their stages left.

They are read apart from the lifting and image experiments because their files differ: every
number of their eval.json names the pelvis it stands on, their errors are absolute and
pelvis-relative (frame-pooled and action-wise), and beside them stand two baselines scored on the
same frames. ``extra_multiview_experiments:`` holds entries that do not run and is not read.
Absent files give None, as in inputs.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pose3d.report.inputs import METRICS, MODELS, StageState, _Reader

#: params.yaml sections that run -> the suffix of their stages (train_<suffix>@<name>, evaluate_<suffix>@<name>).
MULTIVIEW_SECTIONS = {"algebraic_experiments": "algebraic", "volumetric_experiments": "volumetric"}
#: The columns evaluate_multiview writes to per_action.csv.
PER_ACTION_COLUMNS = ("action", "frames", "mpjpe_abs_mm", "mpjpe_rel_mm", "pelvis_source")
#: The eval.json numbers without which a run does not count as evaluated.
REQUIRED = ("mpjpe_abs_mm", "mpjpe_rel_mm")


@dataclass
class MultiviewRun(StageState):
    """One multi-view experiment: its params entry and the files of its train / evaluate stages."""

    name: str
    section: str  # algebraic_experiments | volumetric_experiments
    config: dict  # the params entry as it stands
    eval: dict | None = None  # data/metrics/<name>/eval.json
    per_action: pd.DataFrame | None = None
    model_info: dict | None = None  # data/models/<name>/config.json
    training_provenance: dict | None = None  # data/models/<name>.provenance.json
    eval_provenance: dict | None = None

    @property
    def family(self) -> str:
        return str((self.eval or {}).get("family") or self.config.get("model") or "")

    @property
    def train_stage(self) -> str:
        return f"train_{MULTIVIEW_SECTIONS[self.section]}@{self.name}"

    @property
    def evaluate_stage(self) -> str:
        return f"evaluate_{MULTIVIEW_SECTIONS[self.section]}@{self.name}"

    @property
    def parameters(self) -> int | None:
        n = (self.model_info or {}).get("parameters")
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    @property
    def training(self) -> dict:
        """Device, git revision and seconds of the training run."""
        return self.training_provenance or {}

    @property
    def training_minutes(self) -> float | None:
        s = self.training.get("seconds")
        return s / 60 if isinstance(s, (int, float)) and not isinstance(s, bool) else None

    @property
    def single_view(self) -> bool:
        return bool(self.config.get("single_view"))


def read_multiview_runs(reader: _Reader, params: dict) -> list[MultiviewRun]:
    """Every entry of the sections that run, in params order; none when they are absent or empty."""
    return [_run(reader, str(name), section, dict(entry or {}))
            for section in MULTIVIEW_SECTIONS for name, entry in (params.get(section) or {}).items()]


def _run(reader: _Reader, name: str, section: str, config: dict) -> MultiviewRun:
    mdir = METRICS / name
    run = MultiviewRun(name=name, section=section, config=config)
    run.eval = reader.json(mdir / "eval.json")
    if run.eval is not None and not all(_is_number(run.eval.get(k)) for k in REQUIRED):
        reader.problems.append(f"{mdir / 'eval.json'}: no {' / '.join(REQUIRED)} number")
        run.eval = None
    run.per_action = reader.csv(mdir / "per_action.csv", required=PER_ACTION_COLUMNS)
    run.model_info = reader.json(MODELS / name / "config.json")
    run.training_provenance = reader.json(MODELS / f"{name}.provenance.json")
    run.eval_provenance = reader.json(mdir / "eval.provenance.json")
    return run


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
