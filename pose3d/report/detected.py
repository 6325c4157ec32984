"""Lifting on detected 2D: each experiment scored on a detector's output, beside the same model on gt and noisy 2D.

A detections source covers only the sequences that have video, so the headline of an experiment
scored on it is a mean over fewer action groups than its neighbours': set side by side as they
are, the numbers would compare different sequences. The comparison rows are therefore restricted
to the action groups the detected-2D experiment was scored on, and averaged over those alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.report.document import Section, Table, Text, finite_number
from pose3d.report.inputs import METRICS, ExperimentRun
from pose3d.report.tables import ACTION_ABBREV, input_2d, mark_best

#: Where the detect stage writes its detections: a 2D source whose file lies below is detected 2D.
DETECTIONS = PurePosixPath("data/processed/detections")
#: The 2D sources a detected-2D experiment is compared against.
REFERENCE_SOURCES = ("gt", "noisy")
#: Rows of per_action.csv that are not an action group.
SUMMARY_ROWS = ("Average", "Pooled")
METRIC_TITLES = {"mpjpe": "MPJPE (mm)", "p_mpjpe": "P-MPJPE (mm)"}



def scored_source(run: ExperimentRun) -> str | None:
    """The inputs_2d entry an experiment is scored on: what eval.json says, else what its config plans."""
    ev, cfg = run.eval or {}, run.config
    return ev.get("eval_input_2d") or cfg.get("eval_input_2d") or ev.get("input_2d") or cfg.get("input_2d")


def source_file(params: dict, source: str | None) -> str | None:
    entry = (params.get("inputs_2d") or {}).get(source) if source else None
    return str(entry["file"]) if isinstance(entry, dict) and entry.get("file") else None


def is_detections(path: str | None) -> bool:
    """Whether a 2D source's file lies under data/processed/detections/ (a relative path, as params.yaml has)."""
    if not path:
        return False
    parts = PurePosixPath(path.replace("\\", "/")).parts
    parts = tuple(p for p in parts if p not in (".", ""))
    return parts[:len(DETECTIONS.parts)] == DETECTIONS.parts and len(parts) > len(DETECTIONS.parts)


def detected_runs(runs: Sequence[ExperimentRun], params: dict) -> list[ExperimentRun]:
    return [r for r in runs if is_detections(source_file(params, scored_source(r)))]


def coverage_notes(runs: Sequence[ExperimentRun], params: dict) -> list[Text]:
    """One line per detected-2D experiment for the tables that list it beside the others: its numbers
    (Avg included) are over the sequences with video only."""
    out = []
    for run in detected_runs(runs, params):
        source = scored_source(run)
        out.append(Text(f"{run.name} is scored on {source} ({source_file(params, source)}), detections that cover "
                        f"only the sequences with video: its numbers, Avg included, are over those sequences, not the "
                        f"whole test set (see Lifting on detected 2D).", "note"))
    return out


def references(run: ExperimentRun, runs: Sequence[ExperimentRun]) -> list[ExperimentRun]:
    """The other experiments of the same model scored on gt or noisy 2D, in params order."""
    model = run.config.get("model")
    return [r for r in runs if r is not run and model is not None and r.config.get("model") == model
            and scored_source(r) in REFERENCE_SOURCES]


def action_values(run: ExperimentRun, metric: str) -> dict[str, tuple[float | None, int | None]]:
    """{action group: (value, frames)} of the headline test set, without the Average/Pooled rows."""
    t = run.rows_of(run.per_action)
    if t is None or metric not in t.columns:
        return {}
    frames = t["frames"] if "frames" in t.columns else [None] * len(t)
    out = {}
    for action, value, n in zip(t["action"].astype(str), t[metric], frames):
        if action not in SUMMARY_ROWS:
            f = finite_number(n)
            out[action] = (finite_number(value), None if f is None else int(f))
    return out


def restricted_mean(values: dict[str, tuple[float | None, int | None]], actions: Sequence[str]) -> float | None:
    """The mean over ``actions`` of one experiment's per-action numbers; None if any of them is absent, so
    that a mean is never over fewer groups than the detected-2D row's."""
    cells = [values.get(a, (None, None))[0] for a in actions]
    return None if not cells or any(c is None for c in cells) else sum(cells) / len(cells)


def comparison_table(run: ExperimentRun, refs: Sequence[ExperimentRun], metric: str) -> Table | None:
    """The detected-2D experiment and its references over the detected-2D experiment's action groups."""
    own = action_values(run, metric)
    actions = [a for a in ACTION_GROUPS if a in own] + [a for a in own if a not in ACTION_GROUPS]
    if not actions:
        return None
    rows = []
    for r in (run, *refs):
        values = action_values(r, metric)
        if not values:
            continue
        frames = [values.get(a, (None, None))[1] for a in actions]
        rows.append([r.name, input_2d(r), *(values.get(a, (None, None))[0] for a in actions),
                     restricted_mean(values, actions), None if any(f is None for f in frames) else sum(frames)])
    first = 2
    best = mark_best(rows, {c: True for c in range(first, first + len(actions) + 1)})
    return Table(["Experiment", "2D", *(ACTION_ABBREV.get(a, a) for a in actions), "Mean", "Frames"], rows,
                 title=f"{run.name}: {METRIC_TITLES.get(metric, metric)} on its action groups", best=best,
                 note="Mean: over the action groups shown only, for every row; – marks a group an experiment was "
                      "not scored on (then no mean). Frames: the test frames behind the groups shown.")


def detected_section(runs: Sequence[ExperimentRun], params: dict) -> Section:
    sec = Section("detected-2d", "Lifting on detected 2D")
    found = detected_runs(runs, params)
    if not found:
        sec.missing = (f"No lifting experiment is scored on detected 2D (eval_input_2d naming an inputs_2d entry "
                       f"whose file lies under {DETECTIONS}/).")
        return sec
    for run in found:
        source = scored_source(run)
        sec.blocks.append(Text(run.name, "heading"))
        refs = references(run, runs)
        actions = list(action_values(run, "mpjpe"))
        ref_text = (", ".join(f"{r.name} ({scored_source(r)})" for r in refs) if refs else
                    f"none: no other {run.config.get('model')} experiment is scored on "
                    f"{' or '.join(REFERENCE_SOURCES)}")
        sec.blocks.append(Text(
            f"**{run.name}** ({run.config.get('model')}) is scored on the 2D source **{source}** "
            f"({source_file(params, source)}): detections exist only for the sequences with video, so it sees only "
            f"those{f' ({len(actions)} action groups)' if actions else ''}. Beside it, the same model on "
            f"ground-truth or noisy 2D: {ref_text}; their per-action numbers are restricted to the action groups "
            f"{run.name} was scored on and averaged over those alone. Within a group the others still cover every "
            f"test view, the detected-2D experiment only those with video (compare the Frames column)."))
        tables = [t for m in METRIC_TITLES if (t := comparison_table(run, refs, m)) is not None]
        sec.blocks.extend(tables or [Text(f"{run.name}: {run.status}: {METRICS / run.name / 'per_action.csv'} is "
                                          f"absent, nothing to compare.", "note")])
    return sec
