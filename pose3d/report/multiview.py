"""The multi-view models section: learnable-triangulation (algebraic, volumetric) and ContextPose.

Their numbers cannot be read like the lifting rows. Every one stands on a pelvis (the cube
centre from the priors stage, the ground truth, or the model's own triangulation), so the pelvis
source is written next to each; the seeds' headline is frame-pooled and pelvis-relative while
the lifting seeds average over actions, so both are shown; and two baselines scored on the same
frames (the priors stage's triangulation, the training set's mean pose) say what a model adds.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.report.document import Section, Table, Text, finite_number
from pose3d.report.inputs import METRICS, MODELS, PriorsInputs
from pose3d.report.multiview_runs import MULTIVIEW_SECTIONS, MultiviewRun
from pose3d.report.tables import mark_best

#: The four errors of eval.json and of each baseline in it: (key, column label).
ERRORS: tuple[tuple[str, str], ...] = (
    ("mpjpe_abs_mm", "MPJPE absolute, pooled (mm)"),
    ("mpjpe_rel_mm", "MPJPE relative, pooled (mm)"),
    ("mpjpe_abs_actionwise_mm", "MPJPE absolute, action-wise (mm)"),
    ("mpjpe_rel_actionwise_mm", "MPJPE relative, action-wise (mm)"),
)
#: The baselines evaluate_multiview scores on the model's frames: (eval.json key, row label).
BASELINES = (("priors_triangulation", "priors triangulation"), ("mean_pose", "mean training pose"))
COLUMNS = ["Experiment", "Family", "Views", "Pelvis source", *(label for _, label in ERRORS), "Pelvis error (mm)",
           "Poses scored", "Parameters", "Training (min)"]
FIRST_ERROR = COLUMNS.index(ERRORS[0][1])

HEADLINE_NOTE = (
    "Which number is the seeds' headline: learnable-triangulation and ContextPose report the frame-pooled, "
    "pelvis-relative MPJPE (per_pose_error_relative in their evaluation), the column 'MPJPE relative, pooled': "
    "every test frame weighs the same (ContextPose: every (frame, camera) sample). The action-wise columns are the "
    "mean of the per-action means, the lifting seeds' convention, for setting these rows beside the lifting ones. "
    "ContextPose's loss is on absolute coordinates, but its headline is the relative number: reading the absolute "
    "key gives about 55 mm where the paper reports 43.4 mm. Absolute errors carry the error of the pelvis the "
    "cube is centred on, hence the pelvis source next to every number. A \"single-view\" ContextPose number "
    "(one camera per sample) still stands on a multi-view pelvis: its cube is centred on the priors stage's "
    "pelvis, triangulated from all cameras (or an algebraic model's multi-view prediction), so it is not a "
    "monocular result.")


def multiview_section(runs: Sequence[MultiviewRun], priors: PriorsInputs | None) -> Section:
    sec = Section("multiview", "Multi-view models")
    if not runs:
        sec.missing = (f"No multi-view experiments under {' or '.join(f'{s}:' for s in MULTIVIEW_SECTIONS)} in "
                       f"params.yaml (entries under extra_multiview_experiments: do not run; move one into either "
                       f"section to run it).")
        return sec
    sec.missing = "; ".join(_absent(r) for r in runs if not r.evaluated)
    sec.blocks.append(Text(
        "Four camera crops with their projection matrices per frame. algebraic: 2D heatmaps and per-view "
        "confidences, triangulated by a weighted DLT; volumetric and contextpose: features unprojected into a "
        "cube around the pelvis prior, ContextPose adding limb-length and joint-context priors."
        + (f" {text}" if (text := pelvis_priors_text(priors)) else "")))
    sec.blocks.append(results_table(runs))
    sec.blocks.append(Text(HEADLINE_NOTE, "note"))
    done = [r for r in runs if r.evaluated]
    if (table := per_action_table(done)) is not None:
        sec.blocks.append(table)
    if line := per_subject_text(done):
        sec.blocks.append(Text(line))
    return sec


def _absent(run: MultiviewRun) -> str:
    text = f"{run.name}: {run.status}: {METRICS / run.name / 'eval.json'} is absent (dvc repro {run.evaluate_stage})"
    if run.model_info is None:
        text += f"; {MODELS / run.name / 'config.json'} too ({run.train_stage})"
    return text


def pelvis_priors_text(priors: PriorsInputs | None) -> str:
    """One sentence: the pelvis source the priors stage used and its pelvis error (pelvis_priors.json), else
    the source its provenance names; '' when neither is there."""
    pelvis, prov = (priors.pelvis, priors.provenance) if priors is not None else (None, None)
    if not pelvis:
        source = (prov or {}).get("pelvis_source")
        return f"Pelvis priors from **{source}** where it has a pelvis." if source else ""
    source = pelvis.get("source") or (prov or {}).get("pelvis_source") or "?"
    parts = []
    share = finite_number(pelvis.get("from_source_fraction"))
    if source != "triangulation" and share is not None:
        parts.append(f"from it on {100 * share:.1f} % of the frames, from the triangulation on the rest")
    err, frames = finite_number(pelvis.get("pelvis_error_mm")), pelvis.get("frames")
    if err is not None:
        over = f" over {frames:,} frames" if isinstance(frames, int) and not isinstance(frames, bool) else ""
        parts.append(f"pelvis error **{err:.1f} mm**{over}")
    on = pelvis.get("on_source_frames") or {}
    src, tri = finite_number(on.get("source_pelvis_error_mm")), finite_number(on.get("triangulation_pelvis_error_mm"))
    if source != "triangulation" and src is not None and tri is not None:
        parts.append(f"on the frames it covers {src:.1f} mm against the triangulation's {tri:.1f} mm")
    return f"Pelvis priors (priors.source) from **{source}**" + (f": {'; '.join(parts)}." if parts else ".")


def _errors(values: dict) -> list[float | None]:
    return [finite_number(values.get(k)) for k, _ in ERRORS]


def _views(run: MultiviewRun) -> str:
    return str((run.eval or {}).get("views") or ("one view per sample" if run.single_view else "all present views"))


def results_table(runs: Sequence[MultiviewRun]) -> Table:
    """One row per experiment, each evaluated one followed by its two baselines on the same frames."""
    rows, ranked = [], []
    for run in runs:
        ev = run.eval or {}
        backbone = run.config.get("backbone")
        family = f"{run.family} (from {backbone})" if backbone else run.family or None
        rows.append([run.name, family, _views(run), ev.get("pelvis_source"), *_errors(ev),
                     finite_number(ev.get("pelvis_error_mm")), _count(ev.get("frames")), run.parameters,
                     run.training_minutes])
        ranked.append(len(rows) - 1)
        for key, label in BASELINES:
            base = ev.get(key)
            if isinstance(base, dict):
                rows.append([f"{run.name}: {label}", "baseline", _views(run), base.get("pelvis_source"),
                             *_errors(base), None, _count(base.get("frames")), None, None])
    masked = [row if i in ranked else [None] * len(row) for i, row in enumerate(rows)]
    best = mark_best(masked, {FIRST_ERROR + i: True for i in range(len(ERRORS))})
    return Table(COLUMNS, rows, title="Multi-view experiments", best=best,
                 note="Pooled: the mean over every scored pose; action-wise: the mean of the per-action means. "
                      "Pelvis error: the distance of the cube centre from the true pelvis (volumetric and "
                      "contextpose; an algebraic model triangulates its own). Below each experiment, on the same "
                      "frames and not ranked: the priors stage's triangulation of every joint, and the training "
                      "subjects' mean pelvis-relative pose (its absolute error placed on the experiment's pelvis). "
                      "Training: wall time of the train stage.")


def _count(x) -> int | None:
    v = finite_number(x)
    return None if v is None else int(v)


def per_action_table(runs: Sequence[MultiviewRun]) -> Table | None:
    """Rows the action groups, a column per experiment: its pelvis-relative MPJPE."""
    found = [r for r in runs if r.per_action is not None]
    if not found:
        return None
    values = {r.name: _by_action(r.per_action) for r in found}
    extra = sorted({a for v in values.values() for a in v} - set(ACTION_GROUPS))
    rows = [[a, *(values[r.name].get(a) for r in found)] for a in (*ACTION_GROUPS, *extra)
            if any(values[r.name].get(a) is not None for r in found)]
    rows.append(["Action-wise mean", *(finite_number(r.eval.get("mpjpe_rel_actionwise_mm")) for r in found)])
    rows.append(["Pooled", *(finite_number(r.eval.get("mpjpe_rel_mm")) for r in found)])
    sources = "; ".join(f"{r.name}: {_sources(r)}" for r in found)
    return Table(["Action", *(r.name for r in found)], rows, title="Multi-view per action: MPJPE relative (mm)",
                 note=f"Pelvis source: {sources}. Pooled weighs every scored pose the same (the seeds' headline).")


def _by_action(table: pd.DataFrame) -> dict[str, float | None]:
    return {str(a): finite_number(v) for a, v in zip(table["action"], table["mpjpe_rel_mm"])}


def _sources(run: MultiviewRun) -> str:
    named = sorted({str(s) for s in run.per_action["pelvis_source"].dropna()})
    return ", ".join(named) or str((run.eval or {}).get("pelvis_source") or "?")


def per_subject_text(runs: Sequence[MultiviewRun]) -> str:
    """'Per subject (...): **vol**: S9 45.1 / 60.2, S11 ...' for the runs whose eval.json has per_subject."""
    parts = []
    for run in runs:
        subjects = run.eval.get("per_subject") or {}
        cells = []
        for s, v in subjects.items():
            rel, abs_ = finite_number(v.get("mpjpe_rel_mm")), finite_number(v.get("mpjpe_abs_mm"))
            other = v.get("pelvis_source") not in (None, run.eval.get("pelvis_source"))
            cells.append(f"{s} {_mm(rel)} / {_mm(abs_)}" + (f" (pelvis: {v['pelvis_source']})" if other else ""))
        if cells:
            parts.append(f"**{run.name}**: {', '.join(cells)}")
    if not parts:
        return ""
    return "Per subject (MPJPE relative / absolute, pooled, mm; same pelvis source as above): " + "; ".join(parts) + "."


def _mm(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"
