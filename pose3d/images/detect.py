"""A trained keypoints2d network over every frame of every video: 2D detections in VideoPose3D's format.

One job per (sequence, camera) video, as the frames stage plans them but with every pose frame
kept: decode, box each frame as the frames stage does (the ground-truth mask, else the 2D joints,
with the same margins), crop straight to the network's input size, predict in batches, map the
joints back to original-image pixels and keep each joint's score. A finished video is one small
``.npz`` part carrying the digest of everything that decided it, so an interrupted stage resumes
at the first video without a matching part. Frames a damaged video does not give are NaN (a 2D
source's ``fill`` rule then fills them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pose3d.h36m.cameras import get_camera
from pose3d.images.augment import warp
from pose3d.images.config import ImageRun
from pose3d.images.evaluate import network_outputs
from pose3d.io.npz import write_npz
from pose3d.video.boxes import square_crop
from pose3d.video.crop import crop_frame, to_video, video_camera, video_scale
from pose3d.video.decode import DecodeReport, VideoError, decode_frames, probe
from pose3d.video.extract import VideoJob, VideoResult, person_boxes


@dataclass(frozen=True)
class DetectJob:
    video: VideoJob  # every pose frame planned
    weights: str  # the experiment's checkpoint file
    run: ImageRun
    part: str  # output .npz of this video
    identity: str  # digest of weights, settings and inputs: a part with another one is redone
    threads: int = 1
    batch_size: int = 128
    flip_test: bool = False


_MODELS: dict[tuple[str, str], torch.nn.Module] = {}


def _model(job: DetectJob) -> torch.nn.Module:
    key = (job.weights, job.identity)
    if key not in _MODELS:
        _MODELS.clear()
        model = job.run.network()
        model.load_state_dict(torch.load(job.weights, map_location="cpu", weights_only=False)["model"])
        _MODELS[key] = model.eval().to(memory_format=torch.channels_last)
    return _MODELS[key]


def read_part(path: Path | str, identity: str) -> dict | None:
    """A finished part with this identity, or None (absent, unreadable or from another run)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["identity"]) != identity:
                return None
            return {k: z[k] for k in z.files}
    except (OSError, KeyError, ValueError):
        return None


@torch.no_grad()
def detect_video(job: DetectJob) -> dict:
    """Run one job (or reuse its part); returns its summary: status, frames, decoded, problems."""
    vj = job.video
    done = read_part(job.part, job.identity)
    if done is not None:
        return {"video": vj.video_label, "status": str(done["status"]), "frames": vj.n_pose,
                "decoded": int(done["decoded"]), "reused": True}
    torch.set_num_threads(max(1, job.threads))
    res = VideoResult(vj.subject, vj.key, vj.file_base, vj.camera_id, vj.split, vj.video_label, "ok", n_pose=vj.n_pose)
    try:
        header = probe(vj.video)
    except VideoError as exc:
        return {"video": vj.video_label, "status": "skipped", "problem": exc.problem, "frames": vj.n_pose, "decoded": 0}
    camera = get_camera(vj.subject, vj.camera_id)
    scale = video_scale(camera, header.width, header.height)
    vcam = video_camera(camera, scale, header.width, header.height)
    boxes, from_mask = person_boxes(vj, header, vcam, to_video(vj.joints_uv, scale), res)
    st = vj.settings
    squares = [square_crop(b, m) for b, m in zip(boxes, np.where(from_mask, st.margin, st.joints_margin))]
    size = job.run.input_size
    model = _model(job)
    out = np.full((vj.n_pose, 17, 3), np.nan, dtype=np.float32)
    report = DecodeReport(vj.video_label)
    batch, frames = [], []

    def flush() -> None:
        images = torch.from_numpy(np.stack(batch))
        x, _ = warp(images, size)
        coords, score = network_outputs(model, job.run, x.contiguous(memory_format=torch.channels_last), job.flip_test)
        uv_crop = (coords.double().numpy() + 0.5) * (size / job.run.heatmap_size) - 0.5  # the crop is the input
        for k, f in enumerate(frames):
            left, top, side = squares[position[f]]
            uv_video = (uv_crop[k] + 0.5) * (side / size) - 0.5 + np.array([left, top])
            out[f, :, :2] = (uv_video + 0.5) / scale - 0.5
            out[f, :, 2] = score[k].numpy()
        batch.clear()
        frames.clear()

    position = {int(f): k for k, f in enumerate(vj.frames)}
    for index, rgb in decode_frames(vj.video, vj.frames, vj.n_pose, report, st.decoder_threads):
        left, top, side = squares[position[index]]
        batch.append(crop_frame(rgb, left, top, side, size))
        frames.append(index)
        if len(batch) == job.batch_size:
            flush()
    if batch:
        flush()
    status = "ok" if report.decoded >= vj.n_pose and not report.error else "cut"
    box_px = np.array([max(b[2] - b[0], b[3] - b[1]) for b in boxes]) / scale[0]
    write_npz(job.part, {"positions": out, "box_px": box_px.astype(np.float32), "identity": np.array(job.identity),
                         "status": np.array(status), "decoded": np.array(report.decoded)})
    summary = {"video": vj.video_label, "status": status, "frames": vj.n_pose, "decoded": report.decoded, "reused": False}
    if report.error or status == "cut":
        summary["problem"] = report.error or f"{report.decoded} of {vj.n_pose} frames decoded"
    return summary
