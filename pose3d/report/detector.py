"""The 2D detector section: each keypoints2d experiment's PCK and pixel errors, and its detections.

A lifting experiment on detected 2D is only as good as the detector under it, so the detector's
own errors come first: on the test crops (eval.json, per action, per joint), on every frame the
detect stage wrote (detect.json, training and test subjects apart), and drawn on sample crops.
"""
from __future__ import annotations

from collections.abc import Sequence

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.h36m.skeleton import JOINT_NAMES_17
from pose3d.report.document import Section, Table, Text, format_cell, finite_number
from pose3d.report.image_runs import DETECT_SECTION, EVALUATE_STAGE, IMAGE_SECTION, KEYPOINTS2D, ImageRun
from pose3d.report.inputs import METRICS
from pose3d.report.samples import samples_figure
from pose3d.report.tables import mark_best

#: (key, label, higher is better) of the three numbers every table of the section shows; PCK in %.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("pck_0.05", "PCK@0.05 (%)", True),
    ("pck_0.1", "PCK@0.1 (%)", True),
    ("mean_px", "Mean error (px)", False),
)
PCK_TEXT = ("PCK@a: the share of joints detected less than a × the longer side of the ground-truth person box "
            "from their true position")



def _cells(values) -> list[float | None]:
    """The three numbers of a row (a dict or a table row), PCK as percent."""
    out = []
    for key, _, _ in COLUMNS:
        v = finite_number(values.get(key))
        out.append(None if v is None else 100 * v if key.startswith("pck") else v)
    return out


def _int(x) -> int | None:
    v = finite_number(x)
    return None if v is None else int(v)


def keypoints2d_runs(runs: Sequence[ImageRun]) -> list[ImageRun]:
    return [r for r in runs if r.family == KEYPOINTS2D]


def summary_table(runs: Sequence[ImageRun]) -> Table:
    """One row per keypoints2d experiment: backbone, input, decoding, checkpoint and its test-set numbers."""
    rows = []
    for run in runs:
        ev, cfg = run.eval or {}, run.config
        flip = ev.get("flip_test")
        scored = None
        if run.evaluated and ev.get("checkpoint") is not None:
            scored = f"{ev['checkpoint']} ({ev.get('checkpoint_epoch', '?')}/{ev.get('epochs', '?')})"
        rows.append([run.name, run.model_text, ev.get("input_size") or cfg.get("input_size"), ev.get("decode"),
                     None if flip is None else bool(flip), scored, *_cells(ev),
                     _int(ev.get("frames")) if run.evaluated else None,
                     run.status if not run.config_error else f"config error: {run.config_error}"])
    best = mark_best(rows, {6 + i: not higher for i, (_, _, higher) in enumerate(COLUMNS)})
    columns = ["Experiment", "Model", "Input (px)", "Decoding", "Flip test", "Scored",
               *(label for _, label, _ in COLUMNS), "Frames", "Status"]
    if all(r.evaluated and not r.config_error for r in runs):
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    units = next((r.eval.get("units") for r in runs if r.evaluated and r.eval.get("units")), "pixels")
    return Table(columns, rows, title="2D detectors on the test crops", best=best,
                 digits={"Mean error (px)": 2},
                 note=f"{PCK_TEXT}; mean error in {units}. The best value of each column is marked.")


def per_action_table(run: ImageRun) -> Table | None:
    """PCK and mean error per action group (seeds' order, then any other name), then the whole test set."""
    t = run.rows_of(run.per_action)
    if t is None or not len(t):
        return None
    by_action = {str(r["action"]): r for _, r in t.iterrows()}
    order = [a for a in ACTION_GROUPS if a in by_action] + [a for a in by_action if a not in ACTION_GROUPS]
    rows = [[a, *_cells(by_action[a]), _int(by_action[a].get("frames"))] for a in order]
    note = ""
    if run.evaluated:
        rows.append(["All", *_cells(run.eval), _int(run.eval.get("frames"))])
        baseline = run.eval.get("mean_pose")
        if isinstance(baseline, dict):
            rows.append(["Mean pose (baseline)", *_cells(baseline), _int(baseline.get("frames"))])
            note = ("Mean pose: the training crops' mean joint positions in the box, scored on the same test crops; "
                    "the baseline a detector has to beat.")
    return Table(["Action", *(label for _, label, _ in COLUMNS), "Frames"], rows, title=f"{run.name}: per action",
                 digits={"Mean error (px)": 2}, note=note)


def per_joint_table(run: ImageRun) -> Table | None:
    """The 17 joints as columns and the three numbers as rows: compact enough to sit beside the others."""
    t = run.rows_of(run.per_joint)
    if t is None or not len(t):
        return None
    by_joint = {str(r["joint"]): r for _, r in t.iterrows()}
    joints = [j for j in JOINT_NAMES_17 if j in by_joint] + [j for j in by_joint if j not in JOINT_NAMES_17]
    rows = []
    for i, (key, label, _) in enumerate(COLUMNS):
        rows.append([label, *(_cells(by_joint[j])[i] for j in joints)])
    return Table(["", *joints], rows, title=f"{run.name}: per joint", digits=1)


def detect_table(run: ImageRun) -> Table | None:
    """detect.json: the detections on every frame against the ground-truth 2D, all and per split."""
    d = run.detect
    if not d:
        return None
    rows = [["all", _int(d.get("frames")), _int(d.get("videos")), *_cells(d)]]  # by_split has no video count
    for split, values in (d.get("by_split") or {}).items():
        if isinstance(values, dict):
            rows.append([split, _int(values.get("frames")), _int(values.get("videos")), *_cells(values)])
    return Table(["Frames of", "Frames", "Videos", *(label for _, label, _ in COLUMNS)], rows,
                 title=f"{run.name}: detections on every frame (detect.json)", digits={"Mean error (px)": 2},
                 note=f"Every frame of every video the detect stage read{_sequences(d)}, scored against the "
                      "ground-truth 2D; the training subjects' frames were seen in training, so the test row is the "
                      "one that tells how well the detections a lifting model is scored on match the truth.")


def _sequences(d: dict) -> str:
    n = _int(d.get("sequences"))
    return f" ({n:,} sequences with all four videos detected)" if n is not None else ""


def detector_section(runs: Sequence[ImageRun]) -> Section:
    sec = Section("detector", "2D detector")
    kp = keypoints2d_runs(runs)
    if not kp:
        sec.missing = f"No keypoints2d experiment under {IMAGE_SECTION}: in params.yaml."
        return sec
    sec.blocks.append(Text(
        f"The keypoints2d experiments predict the 17 joints' pixel positions from a person crop (2D heatmaps). "
        f"{PCK_TEXT}, so the thresholds scale with the person's size; the mean error is the distance to the true "
        f"joint in the original image. The experiments named in {DETECT_SECTION}.experiments also write their "
        f"detections for every frame, a 2D source that lifting experiments can train and be scored on."))
    sec.blocks.append(summary_table(kp))
    for run in kp:
        sec.blocks.append(Text(run.name, "heading"))
        if not run.evaluated:
            sec.blocks.append(Text(f"{run.name}: {run.status}: {METRICS / run.name / 'eval.json'} is absent "
                                   f"(dvc repro {EVALUATE_STAGE}@{run.name}).", "note"))
        else:
            ev = run.eval
            subjects = ", ".join(map(str, ev.get("test_subjects") or [])) or "–"
            ref = ev.get("pck_reference")
            reference = f" PCK thresholds are fractions of the {ref}." if ref else ""
            sec.blocks.append(Text(
                f"Test subjects {subjects}; {format_cell(ev.get('frames'))} frames, {ev.get('joints', 17)} joints; "
                f"decoded by {ev.get('decode', '?')}{', with flip test' if ev.get('flip_test') else ''}; PCK@0.05 "
                f"**{_pct(ev.get('pck_0.05'))}**, PCK@0.1 **{_pct(ev.get('pck_0.1'))}**, mean error "
                f"**{_fmt(ev.get('mean_px'))} px** ({ev.get('units', 'pixels')}).{reference}"))
        for t in (per_action_table(run), per_joint_table(run), detect_table(run)):
            if t is not None:
                sec.blocks.append(t)
        if run.detect is None:
            why = ("detect.json is absent: the detect stage has not run for it" if run.detect_listed else
                   f"not in {DETECT_SECTION}.experiments: no detections are written for it")
            sec.blocks.append(Text(f"{run.name}: {why}.", "note"))
        if run.samples is not None and len(run.samples):
            image = samples_figure(run.name, run.samples)
            if image is not None:
                sec.blocks.append(image)
    return sec


def _pct(x) -> str:
    v = finite_number(x)
    return "–" if v is None else f"{100 * v:.1f} %"


def _fmt(x, digits: int = 2) -> str:
    v = finite_number(x)
    return "–" if v is None else f"{v:.{digits}f}"

