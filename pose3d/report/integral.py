"""The numbers of Integral Human Pose Regression as its own code prints them, beside ours.

Integral's code names its metrics the other way round from the lifting seeds ("Protocol #1" is
PA-MPJPE *without* scale, "Protocol #2" is MPJPE) and pools every test frame instead of
averaging over action groups, so a row of the results table cannot be set beside its paper
without saying which column is which.
"""
from __future__ import annotations

from collections.abc import Sequence

from pose3d.report.document import Table, finite_number
from pose3d.report.image_runs import ImageRun

INTEGRAL = "integral"



def integral_runs(runs: Sequence) -> list[ImageRun]:
    return [r for r in runs if isinstance(r, ImageRun) and r.family == INTEGRAL]


def protocol_note(runs: Sequence) -> str:
    """The sentence under the results table that maps Integral's protocol names onto its columns."""
    if not integral_runs(runs):
        return ""
    return ("Integral rows are predicted from the image crops, with the ground-truth box and root depth. "
            "Integral's own code calls PA-MPJPE without scale (Procrustes alignment by rotation and translation "
            "only) \"Protocol #1\" and MPJPE \"Protocol #2\" (in the lifting seeds' naming used here, Protocol #1 "
            "is MPJPE and Protocol #2 P-MPJPE, Procrustes with scale), and its headline is frame-pooled over every "
            "test frame: its Protocol #1 is the pooled value of the 'PA-MPJPE w/o scale' column and its "
            "Protocol #2 the pooled 'MPJPE' (both in the table below); the columns here are action-group means, "
            "as for every row. 'Mean-pose MPJPE' is the training set's mean pose scored on the same frames: the "
            "baseline a model has to beat, not ranked.")


def integral_table(runs: Sequence) -> Table | None:
    """Integral's headline as its code prints it (frame-pooled), next to the action-group means."""
    rows = []
    for run in integral_runs(runs):
        if not run.evaluated:
            continue
        ev = run.eval
        frames = ev.get("frames")
        rows.append([run.name, finite_number(ev.get("pa_mpjpe_noscale_pooled")), finite_number(ev.get("mpjpe_pooled")),
                     finite_number(ev.get("pa_mpjpe_noscale")), finite_number(ev.get("mpjpe")), finite_number(ev.get("mean_pose_mpjpe")),
                     ev.get("root"), frames if isinstance(frames, int) else None])
    if not rows:
        return None
    return Table(["Experiment", "Integral's Protocol #1: PA-MPJPE w/o scale, pooled (mm)",
                  "Integral's Protocol #2: MPJPE, pooled (mm)", "PA-MPJPE w/o scale, action mean (mm)",
                  "MPJPE, action mean (mm)", "Mean-pose MPJPE (mm)", "Root", "Frames"], rows,
                 title="Integral regression in its own protocols",
                 note="Pooled: the mean over every test frame, as Integral's code reports; action mean: the mean "
                      "over action groups, as in the results table.")
