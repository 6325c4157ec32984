"""Sample crops of the frames stage with the 2D ground-truth joints drawn on them.

A look at a few crops catches what no number does: a box that misses the body, joints
mapped into the crop with the wrong scale, left and right swapped.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pose3d.h36m.skeleton import H36M17  # noqa: E402
from pose3d.report.animation import bone_colours  # noqa: E402
from pose3d.report.document import Image  # noqa: E402
from pose3d.report.figures import png  # noqa: E402
from pose3d.report.inputs import SubjectFrames  # noqa: E402
from pose3d.video.reader import FrameShards, joints_to_crop  # noqa: E402


def pick(n: int, k: int) -> list[int]:
    """``k`` item numbers spread evenly over ``n`` (first and last included)."""
    if n <= 0 or k <= 0:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(k, n))})


def sample_crops(frames: Sequence[SubjectFrames], positions_2d: dict | None, per_subject: int,
                 problems: list[str] | None = None) -> Image | None:
    """One row of crops per subject; joints are drawn when the 2D poses of the frame are known."""
    items = []  # (subject, image, joints or None, title)
    for sf in frames:
        try:
            shards = FrameShards(sf.folder)
            for i in pick(len(shards), per_subject):
                image, meta = shards[i]
                uv = None
                seq = (positions_2d or {}).get(meta["subject"], {}).get(meta["key"])
                if seq is not None and meta["frame"] < len(seq[meta["camera_index"]]):
                    uv = joints_to_crop(meta, np.asarray(seq[meta["camera_index"]][meta["frame"]], dtype=np.float64))
                items.append((sf.subject, image, uv, f"{meta['key']} cam {meta['camera_index']} f{meta['frame']}"))
        except (OSError, KeyError, ValueError) as exc:
            if problems is not None:
                problems.append(f"{Path(sf.folder)}: crops unreadable ({exc})")
    if not items:
        return None
    subjects = list(dict.fromkeys(s for s, *_ in items))
    cols = max(sum(1 for s, *_ in items if s == subj) for subj in subjects)
    fig, axes = plt.subplots(len(subjects), cols, figsize=(2.0 * cols, 2.15 * len(subjects)), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / (2.15 * len(subjects)), wspace=0.04, hspace=0.18)
    for ax in axes.ravel():
        ax.axis("off")
    bones, colours = np.asarray(H36M17.bones), bone_colours(H36M17)
    for r, subj in enumerate(subjects):
        for c, (_, image, uv, title) in enumerate(x for x in items if x[0] == subj):
            ax = axes[r, c]
            ax.imshow(image)
            if uv is not None:
                for (p, j), col in zip(bones, colours):
                    ax.plot(uv[[p, j], 0], uv[[p, j], 1], color=col, lw=1.2)
                ax.scatter(uv[:, 0], uv[:, 1], s=4, c="yellow", zorder=3)
            ax.set_title(f"{subj} {title}", fontsize=6)
    fig.suptitle("Sample crops with the 2D ground truth (red right, blue left)", fontsize=9)
    return Image("crops.png", png(fig), caption="Crops of the frames stage read back through FrameShards, "
                 "with the 2D joints mapped into each crop by joints_to_crop.", alt="sample crops")
