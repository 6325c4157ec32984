"""Skeleton renders of a test sequence: a short GIF of prediction against ground truth, and the
frames with the largest error as stills.

Poses are root-relative, in the camera frame, millimetres. Each pose is drawn twice: as the
camera sees it and turned about the vertical axis, so that depth errors (the hard part of
lifting) show. The 3D views are orthographic projections onto plain 2D axes, several times
faster to draw than matplotlib's 3D axes, which keeps the report stage short.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from pose3d.h36m.skeleton import H36M16, H36M17, Skeleton  # noqa: E402
from pose3d.report.document import Image  # noqa: E402
from pose3d.report.figures import png  # noqa: E402

#: (title, azimuth, elevation) of the two views, degrees.
VIEWS = (("camera view", 0.0, 0.0), ("turned 70°", 70.0, 12.0))
GT_COLOUR = (0.25, 0.25, 0.25, 0.55)


@dataclass
class Clip:
    """Prediction and ground truth of one test view, root-relative camera frame, millimetres."""

    experiment: str
    subject: str
    key: str
    camera: str
    pred_mm: np.ndarray  # (N, J, 3), J = 17 or PoseAug's 16
    gt_mm: np.ndarray  # (N, J, 3)
    fps: float = 50.0

    def __post_init__(self):
        if self.pred_mm.shape != self.gt_mm.shape or self.pred_mm.ndim != 3 or self.pred_mm.shape[-1] != 3:
            raise ValueError(f"prediction {self.pred_mm.shape} and ground truth {self.gt_mm.shape} must be equal (N, J, 3)")

    @property
    def skeleton(self) -> Skeleton:
        """The joint order of the poses, by their count."""
        return {len(sk.parents): sk for sk in (H36M17, H36M16)}[self.pred_mm.shape[1]]

    @property
    def errors_mm(self) -> np.ndarray:
        """Per-frame MPJPE (N,)."""
        return np.linalg.norm(self.pred_mm - self.gt_mm, axis=-1).mean(axis=-1)

    @property
    def label(self) -> str:
        return f"{self.subject} {self.key}, camera {self.camera}"

    @property
    def file_stem(self) -> str:
        """The experiment name, safe as part of a file name."""
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.experiment)


def project(poses_mm: np.ndarray, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """(..., J, 3) camera-frame poses (x right, y down, z forward) -> (..., J, 2) view coordinates, up positive."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    x, y, z = poses_mm[..., 0], -poses_mm[..., 1], poses_mm[..., 2]  # y up
    u = x * np.cos(a) - z * np.sin(a)
    depth = x * np.sin(a) + z * np.cos(a)
    v = y * np.cos(e) + depth * np.sin(e)
    return np.stack([u, v], axis=-1)


def window(n: int, frames: int, stride: int) -> np.ndarray:
    """Frame numbers of a centred clip of up to ``frames`` frames, every ``stride``-th."""
    span = min(n, frames * stride)
    start = (n - span) // 2
    return np.arange(start, start + span, stride)


def worst_frames(errors: np.ndarray, k: int, min_gap: int = 25) -> list[int]:
    """The ``k`` frames with the largest error, at least ``min_gap`` frames apart (not k neighbours of one spike)."""
    chosen: list[int] = []
    for f in np.argsort(-errors, kind="stable"):
        if len(chosen) == k:
            break
        if all(abs(int(f) - c) >= min_gap for c in chosen):
            chosen.append(int(f))
    return chosen


def bone_colours(skeleton: Skeleton) -> list[str]:
    left, right = set(skeleton.joints_left), set(skeleton.joints_right)
    return ["tab:blue" if c in left else "tab:red" if c in right else "tab:purple" for _, c in skeleton.bones]


class _Panels:
    """A row of view panels with a ground-truth and a prediction skeleton each, updated in place."""

    def __init__(self, fig, axes, clip: Clip, skeleton: Skeleton):
        self.fig, self.bones = fig, np.asarray(skeleton.bones)
        both = np.concatenate([clip.pred_mm, clip.gt_mm])
        self.collections = []
        for ax, (title, az, el) in zip(axes, VIEWS):
            uv = project(both, az, el).reshape(-1, 2)
            centre = (uv.min(0) + uv.max(0)) / 2
            half = (uv.max(0) - uv.min(0)).max() / 2 * 1.08 + 1e-6
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(title, fontsize=8, labelpad=2)
            gt = LineCollection([], linewidths=3.2, colors=[GT_COLOUR])
            pred = LineCollection([], linewidths=1.6, colors=bone_colours(skeleton))
            ax.add_collection(gt)
            ax.add_collection(pred)
            self.collections.append((gt, pred, az, el))

    def draw(self, gt_mm: np.ndarray, pred_mm: np.ndarray) -> None:
        for gt, pred, az, el in self.collections:
            for lc, pose in ((gt, gt_mm), (pred, pred_mm)):
                uv = project(pose, az, el)
                lc.set_segments(np.stack([uv[self.bones[:, 0]], uv[self.bones[:, 1]]], axis=1))


def _rgb(fig) -> PILImage.Image:
    w, h = fig.canvas.get_width_height()
    return PILImage.frombuffer("RGBA", (w, h), fig.canvas.buffer_rgba()).convert("RGB")


def render_gif(clip: Clip, frames: int = 48, stride: int = 2, skeleton: Skeleton | None = None, dpi: int = 80) -> Image:
    """A looping GIF of a centred stretch of the clip; one shared palette keeps it small and exact.

    The static parts (titles, frames of the axes) are drawn once and restored for every
    frame; only the skeletons and the status line are drawn again (blitting on Agg).
    """
    idx = window(len(clip.gt_mm), frames, stride)
    errors = clip.errors_mm
    fig, axes = plt.subplots(1, len(VIEWS), figsize=(5.0, 2.75), dpi=dpi)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.09, top=0.84, wspace=0.05)
    panels = _Panels(fig, axes, clip, skeleton or clip.skeleton)
    fig.suptitle(f"{clip.experiment}: {clip.label}", fontsize=9, y=0.985)
    status = fig.text(0.5, 0.885, "", ha="center", fontsize=8)
    dynamic = [status, *(lc for gt, pred, _, _ in panels.collections for lc in (gt, pred))]
    for artist in dynamic:
        artist.set_animated(True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    for f in idx:
        fig.canvas.restore_region(background)
        panels.draw(clip.gt_mm[f], clip.pred_mm[f])
        status.set_text(f"frame {f}   MPJPE {errors[f]:.1f} mm   (grey: ground truth)")
        for artist in dynamic:
            fig.draw_artist(artist)
        images.append(_rgb(fig))
    plt.close(fig)
    palette = images[0].quantize(colors=64, method=PILImage.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=PILImage.Dither.NONE) for im in images]
    buf = io.BytesIO()
    quantized[0].save(buf, format="GIF", save_all=True, append_images=quantized[1:],
                      duration=max(20, int(round(1000 * stride / clip.fps))), loop=0)
    seconds = len(idx) * stride / clip.fps
    return Image(f"clip_{clip.file_stem}.gif", buf.getvalue(), alt=f"{clip.experiment} skeleton animation",
                 caption=f"{clip.experiment}: {clip.label}, frames {idx[0]}–{idx[-1]} ({seconds:.1f} s), "
                         f"prediction (colour; red right, blue left) against ground truth (grey); "
                         f"clip MPJPE {errors[idx].mean():.1f} mm.")


def render_worst(clip: Clip, k: int = 3, skeleton: Skeleton | None = None) -> Image | None:
    """The k worst frames of the whole sequence, camera view above, turned view below."""
    chosen = worst_frames(clip.errors_mm, k)
    if not chosen:
        return None
    fig, axes = plt.subplots(len(VIEWS), len(chosen), figsize=(2.3 * len(chosen), 4.8), squeeze=False)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.05, top=0.86, wspace=0.05, hspace=0.15)
    for col, f in enumerate(chosen):
        one = Clip(clip.experiment, clip.subject, clip.key, clip.camera, clip.pred_mm[f:f + 1], clip.gt_mm[f:f + 1])
        panels = _Panels(fig, axes[:, col], one, skeleton or clip.skeleton)
        panels.draw(one.gt_mm[0], one.pred_mm[0])
        axes[0, col].set_title(f"frame {f}: {clip.errors_mm[f]:.1f} mm", fontsize=8)
    fig.suptitle(f"{clip.experiment}: worst frames of {clip.label}", fontsize=9)
    return Image(f"worst_{clip.file_stem}.png", png(fig), alt=f"{clip.experiment} worst frames",
                 caption=f"{clip.experiment}: the {len(chosen)} frames of {clip.label} with the largest MPJPE "
                         f"(sequence mean {clip.errors_mm.mean():.1f} mm).")
