"""Lifting examples from ``convert``'s files: normalised 2D in, normalised 3D out, per camera view.

Follows VideoPose3D's preparation: world poses (metres) move into each camera's frame and
the 17 standard joints are kept. With ``norm="base"`` (VideoPose3D) the 2D pixels are
mapped to screen units and the 3D target is root-relative metres; SRNet's other modes
(:mod:`pose3d.training.normalization`) keep per-frame parameters that
:meth:`ViewData.metres` uses to bring predictions and targets back to metres for scoring.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import world_to_camera
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import H36M16, H36M16_FROM_17, H36M17, Skeleton, to_17
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.training.normalization import denormalize, intrinsics, normalize
from pose3d.training.protocols import View

#: the joints of each lifting skeleton, as indices into the 17 of ``convert``'s files
JOINTS_FROM_17: dict[str, tuple[int, ...]] = {H36M17.name: tuple(range(17)), H36M16.name: H36M16_FROM_17}


@dataclass
class ViewData:
    """One sequence seen by one camera."""

    subject: str
    key: str
    camera: int
    pose2d: np.ndarray  # (N, 17, 2) float32 network input (base: screen units); (N, 17, 3) with scores
    pose3d: np.ndarray  # (N, 17, 3) float32 network target (base: camera frame, metres, root at the origin)
    root: np.ndarray  # (N, 3) float32, camera-frame root trajectory, metres
    norm: str = "base"
    params: np.ndarray | None = None  # (N, 5) float64 per-frame normalisation parameters
    intrinsics: np.ndarray | None = None  # (4,) fx, fy, cx, cy in pixels
    skeleton: Skeleton = H36M17  # the joints of pose2d and pose3d
    size_px: tuple[int, int] = (1000, 1002)  # image width, height

    def camera_condition(self) -> np.ndarray:
        """(N, 5) float32 per frame: the true root depth (metres) and fx, fy, cx, cy in the
        screen units of ``pose2d``, so that u = fx X/Z + cx there (``base`` only).

        RS-Net's post-refinement back-projects the 2D input with these; like the seed it uses
        the true root depth, at test time too.
        """
        if self.norm != "base":
            raise ValueError(f"camera conditioning needs the base normalisation, not {self.norm!r}")
        fx, fy, cx, cy = self.intrinsics
        w, h = self.size_px
        screen = np.array([2 * fx / w, 2 * fy / w, 2 * cx / w - 1, 2 * cy / w - h / w])
        cond = np.empty((self.root.shape[0], 5), dtype=np.float64)
        cond[:, 0] = self.root[:, 2]
        cond[:, 1:] = screen
        return cond.astype(np.float32)

    def at(self, frames: np.ndarray) -> ViewData:
        """The view restricted to ``frames`` (targets, roots and normalisation parameters)."""
        return dataclasses.replace(self, pose2d=self.pose2d[frames], pose3d=self.pose3d[frames], root=self.root[frames],
                                   params=None if self.params is None else self.params[frames])

    def metres(self, pose: np.ndarray) -> np.ndarray:
        """Network-space poses (N, J, 3) of this view -> root-relative camera-frame metres.

        Applied to predictions and to :attr:`pose3d` alike before errors are measured
        (SRNet's protocol; for ``weak_proj`` the round trip distorts both the same way).
        """
        if self.norm == "base":
            return pose
        return denormalize(pose, self.params, self.intrinsics, self.norm).astype(np.float32)


class PoseData:
    """The converted Human3.6M arrays, loaded once, sliced into views on demand.

    ``inputs_2d``: the 2D file to lift (a materialised source of ``inputs_2d``; default the
    ground truth). ``scores``: append its confidence column to the network input, unnormalised.
    """

    def __init__(self, poses_dir: Path, inputs_2d: Path | None = None, scores: bool = False):
        poses_dir = Path(poses_dir)
        self.positions_3d = load_3d(poses_dir / "data_3d_h36m.npz")
        self.source = Path(inputs_2d) if inputs_2d is not None else poses_dir / "data_2d_h36m_gt.npz"
        self.positions_2d, self.metadata = load_2d(self.source)
        self.scores = scores
        if scores and not self.metadata.get("scores"):
            raise ValueError(f"{self.source}: has no scores (x, y only); use_scores needs a 2D source with "
                             f"confidences (inputs_2d entry with scores: true, or detections with a score column)")

    @property
    def available(self) -> dict[str, list[str]]:
        """Sequences with both mocap and 2D (a partial source, detections of some videos, holds fewer)."""
        out = {s: [k for k in keys if k in self.positions_2d.get(s, {})] for s, keys in self.positions_3d.items()}
        return {s: keys for s, keys in out.items() if keys}

    def view(self, subject: str, key: str, camera: int, norm: str = "base", skeleton: Skeleton = H36M17) -> ViewData:
        """One view's examples; ``skeleton`` (H36M17 or PoseAug's H36M16) picks the joints."""
        n = self.positions_3d[subject][key].shape[0]
        det = self.positions_2d[subject][key][camera][:n]  # 2D may run longer than the mocap
        return self.versions(subject, key, camera, [det], norm, skeleton)[0]

    def versions(self, subject: str, key: str, camera: int, dets: list[np.ndarray], norm: str = "base",
                 skeleton: Skeleton = H36M17) -> list[ViewData]:
        """The view once per 2D input of ``dets`` (each (N, 17, 2 or 3) pixels: corrupted copies, say);
        the camera-frame targets are computed once for all of them."""
        if skeleton.name not in JOINTS_FROM_17:
            raise ValueError(f"no lifting data for skeleton {skeleton.name!r}; have {', '.join(JOINTS_FROM_17)}")
        joints = list(JOINTS_FROM_17[skeleton.name])
        cam = get_camera(subject, camera)
        world_m = self.positions_3d[subject][key]
        cam_m = world_to_camera(to_17(world_m).astype(np.float64) * 1000, cam) / 1000
        out = []
        for det in dets:
            sample = normalize(det[..., :2], cam_m, cam, norm)
            pose2d = sample.inputs_2d
            if self.scores:
                pose2d = np.concatenate([pose2d, det[..., 2:3]], axis=-1)
            out.append(ViewData(
                subject, key, camera,
                pose2d=np.ascontiguousarray(pose2d[:, joints], dtype=np.float32),
                pose3d=np.ascontiguousarray(sample.target_3d[:, joints], dtype=np.float32),
                root=cam_m[:, 0].astype(np.float32),
                norm=norm, params=sample.params, intrinsics=intrinsics(cam),
                skeleton=skeleton, size_px=(cam.width_px, cam.height_px),
            ))
        return out

    def views(self, selection: list[View], norm: str = "base", skeleton: Skeleton = H36M17) -> list[ViewData]:
        return [self.view(*v, norm=norm, skeleton=skeleton) for v in selection]
