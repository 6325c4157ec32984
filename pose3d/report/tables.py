"""The report's tables, built from the collected inputs; best cells are marked per column.

Column names and the per-action layout follow the seed papers (VideoPose3D, SRNet), so a
row can be set beside a published one.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pose3d.h36m.sequences import ACTION_GROUPS, EXCLUSION_RULES
from pose3d.report.document import Table, finite_number
from pose3d.report.image_runs import ImageRun
from pose3d.report.inputs import DataInputs, ExperimentRun, PriorsInputs, SubjectFrames

#: The seeds' column labels of the 15 action groups.
ACTION_ABBREV: dict[str, str] = {
    "Directions": "Dir.", "Discussion": "Disc.", "Eating": "Eat", "Greeting": "Greet", "Phoning": "Phone",
    "Photo": "Photo", "Posing": "Pose", "Purchases": "Purch.", "Sitting": "Sit", "SittingDown": "SitD.",
    "Smoking": "Smoke", "Waiting": "Wait", "WalkDog": "WalkD.", "Walking": "Walk", "WalkTogether": "WalkT.",
}

#: Headline metrics: (eval.json key, column label, lower is better, decimals).
METRICS: tuple[tuple[str, str, bool, int], ...] = (
    ("mpjpe", "MPJPE (mm)", True, 1),
    ("p_mpjpe", "P-MPJPE (mm)", True, 1),
    ("n_mpjpe", "N-MPJPE (mm)", True, 1),
    ("mpjve", "MPJVE (mm)", True, 2),
    ("pck150", "PCK@150 (%)", False, 1),
    ("auc", "AUC (%)", False, 1),
)
#: Metrics only some families report (an image model's eval.json): a column only when a row has a number.
#: (key, label, lower is better or None for a baseline that is not ranked, decimals).
EXTRA_METRICS: tuple[tuple[str, str, bool | None, int], ...] = (
    ("pa_mpjpe_noscale", "PA-MPJPE w/o scale (mm)", True, 1),
    ("mean_pose_mpjpe", "Mean-pose MPJPE (mm)", None, 1),
)
PROTOCOLS: dict[str, str] = {"mpjpe": "Protocol #1 (MPJPE, mm)", "p_mpjpe": "Protocol #2 (P-MPJPE, mm)",
                             "pa_mpjpe_noscale": "PA-MPJPE without scale (mm)"}



def mark_best(rows: Sequence[Sequence], columns: dict[int, bool]) -> set[tuple[int, int]]:
    """Positions of the best value of each listed column (True: lowest is best); ties all marked."""
    best = set()
    for col, lower in columns.items():
        values = [(r, finite_number(row[col])) for r, row in enumerate(rows)]
        values = [(r, v) for r, v in values if v is not None]
        if len(values) < 2:
            continue
        target = (min if lower else max)(v for _, v in values)
        best |= {(r, col) for r, v in values if v == target}
    return best


def _hms(seconds) -> str | None:
    s = finite_number(seconds)
    if s is None:
        return None
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def results_table(runs: Sequence[ExperimentRun]) -> Table:
    """One row per experiment (lifting, then 3D from images): the model, how it was trained, the
    headline metrics; best marked."""
    extra = [m for m in EXTRA_METRICS if any(r.evaluated and finite_number(r.eval.get(m[0])) is not None for r in runs)]
    metrics = (*METRICS, *extra)
    columns = ["Experiment", "Model", "Frames", "Norm", "Protocol", "2D", "Parameters", "Epochs",
               "Training time", "Device", "Scored", *(label for _, label, _, _ in metrics), "Status"]
    first_metric = columns.index(METRICS[0][1])
    rows = []
    for run in runs:
        cfg, ev = run.config, run.eval or {}
        image = isinstance(run, ImageRun)
        epochs = run.epochs_run
        planned = cfg.get("epochs")
        epochs_cell = None if epochs is None and planned is None else (
            f"{epochs}" if planned is None or epochs == planned else f"{epochs if epochs is not None else '–'}/{planned}")
        row = [run.name, run.model_text if image else cfg.get("model"), run.receptive_field,
               None if image else cfg.get("norm", "base"), _protocol(cfg), input_2d(run), run.parameters,
               epochs_cell, _hms(run.training.get("seconds")), run.training.get("device"),
               _scored(ev) if run.evaluated else None]
        for key, _, lower, _ in metrics:
            v = finite_number(ev.get(key)) if run.evaluated else None
            row.append(None if v is None else v * 100 if key in ("pck150", "auc") else v)
        row.append(run.status if not run.config_error else f"config error: {run.config_error}")
        rows.append(row)
    best = mark_best(rows, {first_metric + i: lower for i, (_, _, lower, _) in enumerate(metrics) if lower is not None})
    if all(r.evaluated and not r.config_error for r in runs):  # nothing to say in a status column
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    digits = {label: d for _, label, _, d in metrics}
    return Table(columns, rows, best=best, digits=digits,
                 note="Headline metrics are the means over action groups (the seeds' convention) on each "
                      "experiment's headline test set (cross_action: the unseen actions); 'Scored' says which "
                      "checkpoint: the last epoch, or the best one on validation views held out from the "
                      "training subjects (never the test set); '2D' is the 2D input, trained on → scored on "
                      "where they differ, '+ scores' where the detection confidences were an input channel. "
                      "The best value of each metric column is marked.")


def input_2d(run: ExperimentRun) -> str | None:
    """'gt', 'noisy → gt' (trained → scored on) or 'noisy + scores': what 2D an experiment saw
    ('image crops (64 px)' for a model that sees the image instead).

    eval.json says what was actually used (older files: ``input_2d`` only, scored on the same);
    before evaluation the config says what is planned.
    """
    if isinstance(run, ImageRun):
        return run.input_text
    ev, cfg = run.eval or {}, run.config
    if run.evaluated:
        train = ev.get("input_2d") or cfg.get("input_2d")
        scored, scores = ev.get("eval_input_2d") or train, bool(ev.get("scores", False))
    else:
        train = cfg.get("input_2d")
        scored, scores = cfg.get("eval_input_2d") or train, bool(cfg.get("use_scores", False))
    if not train:
        return None
    text = str(train) if scored == train else f"{train} → {scored}"
    return text + " + scores" if scores else text


def _scored(ev: dict) -> str | None:
    """'last (8/8)' or 'best (5/8)': which checkpoint evaluate scored, of how many epochs."""
    which = ev.get("checkpoint")
    if which is None:
        return None
    epoch, epochs = ev.get("checkpoint_epoch"), ev.get("epochs")
    return f"{which} ({epoch}/{epochs})" if epoch is not None and epochs is not None else str(which)


def _protocol(cfg: dict) -> str | None:
    p = cfg.get("protocol")
    if p == "cross_action" and cfg.get("train_action"):
        return f"cross_action ({cfg['train_action']})"
    if p == "cross_camera" and cfg.get("train_cameras") is not None:
        return f"cross_camera ({cfg.get('train_cameras')}→{cfg.get('test_cameras')})"
    return p


def per_action_table(runs: Sequence[ExperimentRun], metric: str = "mpjpe") -> Table:
    """The seeds' per-action table: one row per evaluated experiment, 15 groups and their mean."""
    columns = ["Experiment", *ACTION_ABBREV.values(), "Avg"]
    rows = []
    for run in runs:
        table = run.rows_of(run.per_action)
        if table is None or metric not in table.columns:
            continue
        by_action = {str(a): finite_number(v) for a, v in zip(table["action"], table[metric])}
        cells = [by_action.get(a) for a in ACTION_GROUPS]
        avg = by_action.get("Average")
        present = [c for c in cells if c is not None]
        if avg is None and present:
            avg = sum(present) / len(present)
        rows.append([run.name, *cells, avg])
    best = mark_best(rows, {c: True for c in range(1, len(columns))})
    return Table(columns, rows, title=PROTOCOLS.get(metric, metric), best=best,
                 note="Avg is the mean over the action groups; – marks a group not in the test set.")


def exclusion_reason(subject: str, key: str, rule_names: Sequence[str]) -> str:
    """Why convert dropped a sequence: the matching rules of dataset.exclude, with their reasons."""
    reasons = [f"{r.name}: {r.reason}" for n in rule_names if (r := EXCLUSION_RULES.get(n))
               and r.subject == subject and r.key == key]
    return "; ".join(reasons) or "excluded by dataset.exclude"


def excluded_table(data: DataInputs) -> Table | None:
    """Sequences (or single views) that convert left out, and why."""
    seq = data.sequences
    if seq is None:
        return None
    cams = seq["excluded_cameras"] if "excluded_cameras" in seq.columns else pd.Series([""] * len(seq))
    sel = seq[seq["excluded"] | (cams.str.len() > 0)]
    rows = []
    for _, r in sel.iterrows():
        reason = next((str(r[c]) for c in ("excluded_reason", "reason") if c in r and isinstance(r[c], str) and r[c]), "")
        cameras = "all" if r["excluded"] else str(r.get("excluded_cameras", ""))
        rows.append([r["subject"], r["key"], int(r["pose_frames"]), cameras,
                     reason or exclusion_reason(r["subject"], r["key"], data.exclude)])
    return Table(["Subject", "Sequence", "Pose frames", "Cameras dropped", "Reason"], rows, title="Excluded")


def subject_sort_key(subject: str) -> tuple:
    digits = "".join(ch for ch in subject if ch.isdigit())
    return (int(digits) if digits else 0, subject)


def subjects_table(data: DataInputs) -> Table | None:
    """Per subject: role, sequences kept/excluded, pose frames kept, worst 2D reprojection residual."""
    seq = data.sequences
    if seq is None:
        return None
    rows = []
    for subject in sorted(seq["subject"].unique(), key=subject_sort_key):
        s = seq[seq["subject"] == subject]
        kept = s[~s["excluded"]]
        role = "train" if subject in data.train_subjects else "test" if subject in data.test_subjects else "unused"
        resid = finite_number(s["max_reprojection_px"].max()) if "max_reprojection_px" in s.columns else None
        rows.append([subject, role, len(kept), int(s["excluded"].sum()), int(kept["pose_frames"].sum()), resid])
    total = seq[~seq["excluded"]]
    resid = finite_number(seq["max_reprojection_px"].max()) if "max_reprojection_px" in seq.columns else None
    rows.append(["All", "", len(total), int(seq["excluded"].sum()), int(total["pose_frames"].sum()), resid])
    return Table(["Subject", "Role", "Sequences", "Excluded", "Pose frames", "Max reprojection residual (px)"],
                 rows, title="Subjects", digits={"Max reprojection residual (px)": 5},
                 note="Pose frames per camera of the kept sequences; the residual is convert's check of "
                      "D2_Positions against the projection of D3_Positions with the cameras.")


def priors_action_table(priors: PriorsInputs) -> Table | None:
    per = priors.metrics.get("per_action") or {}
    if not per:
        return None
    rows = [[a, finite_number(v.get("mpjpe_mm")), finite_number(v.get("pelvis_error_mm")),
             None if finite_number(v.get("ransac_inlier_fraction")) is None else 100 * float(v["ransac_inlier_fraction"]),
             v.get("frames")] for a, v in per.items()]
    return Table(["Action", "Triangulation MPJPE (mm)", "Pelvis error (mm)", "RANSAC inliers (%)", "Frames"], rows,
                 title="Triangulation per action", digits=2)


def limb_table(priors: PriorsInputs) -> Table | None:
    if priors.limb_mean_mm is None:
        return None
    names = priors.limb_names or [f"limb {i}" for i in range(len(priors.limb_mean_mm))]
    rows = [[n, float(m), float(s)] for n, m, s in zip(names, priors.limb_mean_mm, priors.limb_std_mm)]
    note = f"Over {priors.limb_count:,} training frames; " if priors.limb_count else ""
    return Table(["Limb", "Mean length (mm)", "Std (mm)"], rows, title="Limb-length statistics (limb_stats.h5)",
                 digits=1, note=note + "ContextPose's 16 limbs, population standard deviation.")


def frames_table(frames: Sequence[SubjectFrames]) -> Table:
    rows = []
    for sf in frames:
        rep = sf.report or {}
        videos = rep.get("videos") or {}
        rows.append([sf.subject, rep.get("split"), rep.get("every_n"), sf.index_rows,
                     videos.get("ok"), sum(v for k, v in videos.items() if k != "ok") if videos else None])
    return Table(["Subject", "Split", "Every n-th frame", "Crops", "Videos used", "Videos skipped"], rows,
                 title="Extracted frames")


def skipped_videos_table(frames: Sequence[SubjectFrames], limit: int = 40) -> Table | None:
    """Videos the frames stage did not use, grouped by status; those with a problem listed one by one."""
    rows = []
    for sf in frames:
        if sf.videos is None:
            continue
        v = sf.videos[sf.videos["status"].astype(str) != "ok"]
        problems = v["problems"].fillna("").astype(str) if "problems" in v.columns else pd.Series([""] * len(v), index=v.index)
        quiet = v[problems == ""]
        for status, n in quiet["status"].astype(str).value_counts().sort_index().items():
            rows.append([sf.subject, f"{n} videos", status, _STATUS.get(status, "")])
        for (_, r), problem in zip(v[problems != ""].iterrows(), problems[problems != ""]):
            cam = r.get("camera_id", r.get("camera", ""))
            rows.append([sf.subject, f"{r['key']}.{cam}", str(r["status"]), problem])
    if not rows:
        return None
    more = len(rows) - limit
    rows = rows[:limit] + ([["…", f"{more} more", "", "see videos.csv"]] if more > 0 else [])
    return Table(["Subject", "Video", "Status", "Why"], rows, title="Videos skipped")


_STATUS = {"not_provided": "no video file for this sequence/camera in the raw folder"}
