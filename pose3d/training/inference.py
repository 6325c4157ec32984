"""Whole-sequence prediction with test-time flip augmentation.

Temporal models run once over the edge-padded sequence (their evaluation form); single-frame
models take every frame as a batch item. With ``tta`` the mirrored input is predicted too,
mirrored back and averaged, as VideoPose3D and SRNet evaluate. Models that take a camera
condition (RS-Net's post-refinement) get each frame's, mirrored with the input.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d.h36m.skeleton import H36M17, Skeleton
from pose3d.models.registry import takes_camera
from pose3d.training.batching import edge_pad, flip_condition
from pose3d.training.data import ViewData
from pose3d.training.normalization import flip_poses


@torch.no_grad()
def predict_sequence(model: nn.Module, pose2d: np.ndarray, receptive_field: int, device: torch.device,
                     tta: bool = True, chunk: int = 8192, skeleton: Skeleton = H36M17,
                     camera: np.ndarray | None = None) -> np.ndarray:
    """(N, J, 2) network-space 2D -> (N, J, 3) network-space 3D (``ViewData.metres`` converts it).

    Mirroring (negated x, swapped sides) is a valid flip in every normalisation mode.
    ``camera``: (N, 5) per-frame condition for models that take one (single-frame only).
    """
    model.eval()
    pad = (receptive_field - 1) // 2
    x = torch.from_numpy(edge_pad(pose2d, pad)).to(device)[None]
    cond = None if camera is None else torch.from_numpy(np.ascontiguousarray(camera)).to(device)
    if cond is not None and receptive_field != 1:
        raise ValueError("a camera condition is supported for single-frame models only")
    inputs = [(x, cond), (flip_poses(x, skeleton), None if cond is None else flip_condition(cond))] if tta else [(x, cond)]
    outs = []
    for inp, c in inputs:
        if receptive_field == 1:  # frames as a batch, in chunks
            parts = []
            for start in range(0, inp.shape[1], chunk):
                frames = inp[:, start:start + chunk].transpose(0, 1)
                extra = {} if c is None else {"camera": c[start:start + chunk, None]}
                parts.append(model(frames, **extra))
            pred = torch.cat(parts)[:, 0]
        else:
            pred = model(inp)[0]
        outs.append(pred.float())
    if tta:
        outs[1] = flip_poses(outs[1], skeleton)
    pred = torch.stack(outs).mean(0)
    return pred.cpu().numpy()


def predict_view(model: nn.Module, view: ViewData, receptive_field: int, device: torch.device,
                 tta: bool = True) -> np.ndarray:
    """:func:`predict_sequence` on one view, with its skeleton and (when the model takes one) camera."""
    camera = view.camera_condition() if takes_camera(model) else None
    return predict_sequence(model, view.pose2d, receptive_field, device, tta=tta, skeleton=view.skeleton,
                            camera=camera)


@torch.no_grad()
def predict_frames(model: nn.Module, inputs: np.ndarray, frames: np.ndarray, receptive_field: int,
                   device: torch.device, tta: bool = True, chunk: int = 4096, skeleton: Skeleton = H36M17,
                   camera: np.ndarray | None = None) -> np.ndarray:
    """Predictions at ``frames`` only, for K versions of one sequence at once: (K, N, J, C) -> (K, M, J, 3).

    Each chosen frame's receptive field (edge-padded, as :func:`predict_sequence` pads) becomes one
    window, and the windows of all K inputs go through the model together, in batches of ``chunk``:
    a corruption sweep costs one pass over the chosen frames per version, not one stage run per
    version. ``camera`` is the view's (N, 5) condition, shared by the K versions.
    """
    model.eval()
    k, _, j, c = inputs.shape
    pad = (receptive_field - 1) // 2
    padded = np.stack([edge_pad(seq, pad) for seq in inputs])  # (K, N + 2 pad, J, C)
    idx = frames[:, None] + np.arange(receptive_field)[None]  # window of frame f: padded[f : f + rf]
    windows = torch.from_numpy(np.ascontiguousarray(padded[:, idx].reshape(-1, receptive_field, j, c))).to(device)
    cond = None
    if camera is not None:
        cond = torch.from_numpy(np.ascontiguousarray(np.tile(camera[frames], (k, 1)))).to(device)
    passes = [(windows, cond, False)]
    if tta:
        passes.append((flip_poses(windows, skeleton), None if cond is None else flip_condition(cond), True))
    total = None
    for inp, cnd, flipped in passes:
        parts = []
        for start in range(0, inp.shape[0], chunk):
            extra = {} if cnd is None else {"camera": cnd[start:start + chunk, None]}
            parts.append(model(inp[start:start + chunk], **extra)[:, 0].float())
        pred = torch.cat(parts)
        pred = flip_poses(pred, skeleton) if flipped else pred
        total = pred if total is None else total + pred
    return (total / len(passes)).cpu().numpy().reshape(k, len(frames), -1, 3)
