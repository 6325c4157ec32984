"""The robustness section's tables and figure: each experiment's error under corruptions of the gt 2D.

evaluate scores every experiment on the same corrupted copies of the ground-truth 2D
(``robustness.csv``), so the rows compare across experiments whatever 2D each was trained on,
and the ``gt`` column, scored on the same frames, is the baseline each column is read against.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pose3d.report.document import Image, Table, finite_number
from pose3d.report.figures import colour, plt, png
from pose3d.report.inputs import ExperimentRun
from pose3d.report.tables import mark_best

#: Table titles of the metrics the section shows.
METRIC_LABELS = {"mpjpe": "MPJPE (mm)", "p_mpjpe": "P-MPJPE (mm)"}
#: (colour index, experiment, jitter sigmas in px, MPJPE in mm): one line of the figure.
Series = tuple[int, str, list[float], list[float]]


def _by_corruption(run: ExperimentRun) -> dict[str, pd.Series]:
    """The rows of one experiment's robustness.csv by corruption name (the first of a repeated name)."""
    if run.robustness is None:
        return {}
    out: dict[str, pd.Series] = {}
    for _, row in run.robustness.iterrows():
        out.setdefault(str(row["corruption"]), row)
    return out



def describe(name: str, kind: str, level, fill: str = "") -> str:
    """A corruption in words, for the table note (level: sigma in px for jitter, else a rate)."""
    lv = finite_number(level)
    pct = f"{100 * lv:g} %" if lv is not None else "?"
    if kind == "none":
        return "the ground-truth 2D itself"
    if kind == "jitter":
        return f"Gaussian jitter, σ {lv:g} px" if lv is not None else "Gaussian jitter"
    if kind == "outliers":
        return f"gross outliers, {pct} of joints"
    if kind == "swaps":
        return f"left/right swaps, rate {pct}"
    if kind == "missing":
        return f"missing joints, {pct}" + (f" (fill: {fill})" if fill else "")
    if kind == "mixed":
        return "several at once" + (" (the detector-like noise of the noisy 2D source)" if name == "noisy" else "")
    return kind or "?"


def corruptions(runs: Sequence[ExperimentRun]) -> list[tuple[str, str]]:
    """(name, description) of every corruption any experiment was scored under, in params order."""
    seen: dict[str, str] = {}
    for run in runs:
        for name, row in _by_corruption(run).items():
            seen.setdefault(name, describe(name, str(row["kind"]), row["level"], str(row["fill"])))
    return list(seen.items())


def robustness_table(runs: Sequence[ExperimentRun], metric: str = "mpjpe") -> Table | None:
    """Experiment x corruption of one metric, best marked per corruption; None without any robustness.csv."""
    names = [n for n, _ in corruptions(runs)]
    if not names:
        return None
    rows = []
    for run in runs:
        by = _by_corruption(run)
        if not by:
            continue
        frames = finite_number(next(iter(by.values()))["frames"])
        rows.append([run.name, *(finite_number(by[n][metric]) if n in by else None for n in names),
                     None if frames is None else int(frames)])
    best = mark_best(rows, {c: True for c in range(1, len(names) + 1)})
    return Table(["Experiment", *names, "Frames"], rows, title=METRIC_LABELS.get(metric, metric), best=best)


def corruptions_note(runs: Sequence[ExperimentRun]) -> str:
    return "; ".join(f"{name}: {text}" for name, text in corruptions(runs)) + "."


def jitter_series(runs: Sequence[ExperimentRun]) -> list[Series]:
    """Per experiment with robustness.csv: MPJPE against jitter sigma, the gt row as sigma 0, sorted by sigma."""
    out = []
    for i, run in enumerate(runs):
        points = []
        for row in _by_corruption(run).values():
            x = 0.0 if row["kind"] == "none" else finite_number(row["level"]) if row["kind"] == "jitter" else None
            y = finite_number(row["mpjpe"])
            if x is not None and y is not None:
                points.append((x, y))
        if points:
            points.sort()
            out.append((i, run.name, [x for x, _ in points], [y for _, y in points]))
    return out


def robustness_figure(runs: Sequence[ExperimentRun]) -> Image | None:
    """MPJPE against Gaussian jitter of the 2D, one line per experiment; None with fewer than two sigmas."""
    series = jitter_series(runs)
    sigmas = sorted({x for s in series for x in s[2]})
    if len(sigmas) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for i, name, xs, ys in series:
        ax.plot(xs, ys, marker="o", ms=4, lw=1.5, color=colour(i), label=name)
    ax.set_xticks(sigmas)
    ax.set_xlabel("2D jitter σ (px); 0: the ground-truth 2D")
    ax.set_ylabel("MPJPE (mm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return Image("robustness_jitter.png", png(fig), alt="MPJPE against 2D jitter",
                 caption="MPJPE as Gaussian jitter of growing σ is added to the ground-truth 2D (same frames as "
                         "the tables).")
