"""Static figures (PNG): training curves, per-joint errors, triangulation error per action.

Drawn with matplotlib's Agg backend (no display needed) and written without the PNG
'Software' text, so the same inputs give the same bytes.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pose3d.h36m.skeleton import JOINT_NAMES_17  # noqa: E402
from pose3d.report.document import Image  # noqa: E402
from pose3d.report.inputs import ExperimentRun, PriorsInputs  # noqa: E402

DPI = 100
#: Titles of DVCLive's curves (``<group>/<name>`` of plots/metrics), others get their own name.
CURVE_TITLES = {"train/loss": "Training loss", "val/mpjpe_mm": "Validation MPJPE (mm)"}


def colour(i: int) -> tuple:
    """The colour of the i-th experiment, the same in every figure."""
    return plt.get_cmap("tab10")(i % 10)


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def curves_figure(runs: Sequence[ExperimentRun]) -> Image | None:
    """Every DVCLive curve of every experiment, one panel per curve, experiments on shared axes."""
    names = sorted({n for r in runs for n in r.curves}, key=lambda n: (not n.startswith("train/"), n))
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 3.6), squeeze=False, layout="constrained")
    for ax, name in zip(axes[0], names):
        for i, run in enumerate(runs):
            curve = run.curves.get(name)
            if curve is None or not len(curve):
                continue
            loss = run.config.get("loss")
            label = f"{run.name} ({loss})" if name == "train/loss" and loss else run.name
            ax.plot(curve["step"] + 1, curve["value"], marker="o", ms=3, lw=1.5, color=colour(i), label=label)
        ax.set_title(CURVE_TITLES.get(name, name))
        ax.set_xlabel("epoch")
        if name.endswith("loss") and all((r.curves[name]["value"] > 0).all() for r in runs if name in r.curves):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Image("curves.png", png(fig), caption="Training loss and validation error per epoch (DVCLive logs).",
                 alt="training curves")


def per_joint_figure(runs: Sequence[ExperimentRun]) -> Image | None:
    """MPJPE of each of the 17 joints, one bar per experiment (a 2D detector's per_joint.csv has no MPJPE)."""
    tables = [(i, r, r.rows_of(r.per_joint)) for i, r in enumerate(runs)]
    tables = [(i, r, t) for i, r, t in tables if t is not None and len(t) and "mpjpe" in t.columns]
    if not tables:
        return None
    joints = list(JOINT_NAMES_17)
    for _, _, t in tables:
        joints += [j for j in t["joint"].astype(str) if j not in joints]
    x = np.arange(len(joints))
    width = 0.8 / len(tables)
    fig, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    for n, (i, run, t) in enumerate(tables):
        values = dict(zip(t["joint"].astype(str), t["mpjpe"].astype(float)))
        ax.bar(x + (n - (len(tables) - 1) / 2) * width, [values.get(j, np.nan) for j in joints], width,
               color=colour(i), label=run.name)
    ax.set_xticks(x, joints, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("MPJPE (mm)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return Image("per_joint.png", png(fig), caption="Per-joint MPJPE on the test set.", alt="per-joint error")


def priors_figure(priors: PriorsInputs) -> Image | None:
    """Triangulated joints against the ground truth, per action."""
    per = priors.metrics.get("per_action") or {}
    if not per:
        return None
    actions = list(per)
    fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
    x = np.arange(len(actions))
    ax.bar(x - 0.2, [per[a].get("mpjpe_mm", np.nan) for a in actions], 0.4, label="all joints (MPJPE)")
    ax.bar(x + 0.2, [per[a].get("pelvis_error_mm", np.nan) for a in actions], 0.4, label="pelvis")
    ax.set_xticks(x, actions, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("error (mm)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # room for the legend above the bars
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=2, loc="upper center")
    return Image("priors_per_action.png", png(fig), caption="Multi-view triangulation error per action.",
                 alt="triangulation error per action")
