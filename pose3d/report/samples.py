"""Sample test crops of a 2D detector with its detected joints and the true joints drawn on them.

The PCK tables say how often a detector misses; the crops show how: a swapped left and right,
a wrist snapped to the other hand, a whole skeleton shifted by a poor box.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D

from pose3d.h36m.skeleton import H36M17
from pose3d.report.animation import bone_colours
from pose3d.report.crops import pick
from pose3d.report.document import Image
from pose3d.report.figures import plt, png
from pose3d.report.image_runs import Samples

#: At most this many crops are drawn, spread evenly over those in samples.npz.
MAX_CROPS = 12
COLUMNS = 6
TRUE_COLOUR = "lime"
DETECTED_COLOUR = "yellow"


def samples_figure(name: str, samples: Samples, limit: int = MAX_CROPS) -> Image | None:
    """A grid of crops: the detection as a skeleton (red right, blue left, purple centre) with yellow joints, the truth
    as green rings; each crop titled with its view and its mean error in crop pixels."""
    chosen = pick(len(samples), limit)
    if not chosen:
        return None
    joints = samples.pred_px.shape[1]
    bones = H36M17.bones if joints == H36M17.num_joints else []
    colours = bone_colours(H36M17) if bones else []
    rows = math.ceil(len(chosen) / COLUMNS)
    cols = math.ceil(len(chosen) / rows)  # rows filled evenly: 8 crops as 2 x 4, not 6 + 2
    legend_cols = min(5, max(2, cols))
    legend_in = 0.2 * math.ceil(5 / legend_cols) + 0.15  # inches below the crops for the legend
    height = 2.3 * rows + legend_in + 0.3
    fig, axes = plt.subplots(rows, cols, figsize=(max(2.0 * cols, 3.2), height), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=legend_in / height, top=1 - 0.35 / height,
                        wspace=0.04, hspace=0.25)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), chosen):
        crop = samples.crops[i]
        side_y, side_x = crop.shape[:2]
        ax.imshow(crop[..., 0] if crop.ndim == 3 and crop.shape[-1] == 1 else crop,
                  cmap="gray" if crop.ndim == 2 or crop.shape[-1] == 1 else None)
        pred, true = samples.pred_px[i], samples.true_px[i]
        for (p, c), col in zip(bones, colours):
            ax.plot(pred[[p, c], 0], pred[[p, c], 1], color=col, lw=1.3)
        ax.scatter(pred[:, 0], pred[:, 1], s=5, c=DETECTED_COLOUR, zorder=3)
        ax.scatter(true[:, 0], true[:, 1], s=16, facecolors="none", edgecolors=TRUE_COLOUR, linewidths=0.9, zorder=4)
        ax.set_xlim(-0.5, side_x - 0.5)  # pixel centres at integers; joints off the crop do not widen the view
        ax.set_ylim(side_y - 0.5, -0.5)
        err = float(np.nanmean(np.linalg.norm(pred - true, axis=-1)))
        ax.set_title(f"{samples.title(i)}\nmean error {err:.1f} px", fontsize=6)
    handles = [Line2D([], [], color="tab:red", lw=1.5, label="detected, right side"),
               Line2D([], [], color="tab:blue", lw=1.5, label="detected, left side"),
               Line2D([], [], color="tab:purple", lw=1.5, label="detected, centre"),
               Line2D([], [], ls="", marker="o", ms=3, color=DETECTED_COLOUR, label="detected joints"),
               Line2D([], [], ls="", marker="o", ms=5, mfc="none", mec=TRUE_COLOUR, label="ground truth")]
    fig.legend(handles=handles, loc="lower center", ncols=legend_cols, fontsize=7, frameon=False)
    side = samples.crops.shape[1]
    return Image(f"detector_{name}.png", png(fig), alt=f"{name}: sample crops with detected and true joints",
                 caption=f"{name}: {len(chosen)} of the {len(samples)} test crops in samples.npz ({side} px), with "
                         "the detected joints and skeleton and the ground-truth joints (green rings); errors in "
                         "crop pixels.")
