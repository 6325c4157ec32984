"""Whole-sequence prediction with test-time flip augmentation.

Temporal models run once over the edge-padded sequence (the dilated evaluation form);
single-frame models take every frame as a batch item. With ``tta`` the mirrored input is
predicted too, mirrored back and averaged, as VideoPose3D and SRNet evaluate.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose3d.training.batching import edge_pad
from pose3d.training.normalization import flip_poses


@torch.no_grad()
def predict_sequence(model: nn.Module, pose2d: np.ndarray, receptive_field: int, device: torch.device,
                     tta: bool = True, chunk: int = 65536) -> np.ndarray:
    """(N, J, 2) network-space 2D -> (N, J, 3) network-space 3D (``ViewData.metres`` converts it).

    Mirroring (negated x, swapped sides) is a valid flip in every normalisation mode.
    """
    model.eval()
    pad = (receptive_field - 1) // 2
    x = torch.from_numpy(edge_pad(pose2d, pad)).to(device)[None]
    inputs = [x, flip_poses(x)] if tta else [x]
    outs = []
    for inp in inputs:
        if receptive_field == 1:  # frames as a batch, in chunks
            pred = torch.cat([model(part.transpose(0, 1)) for part in inp.split(chunk, dim=1)])[:, 0]
        else:
            pred = model(inp)[0]
        outs.append(pred.float())
    if tta:
        outs[1] = flip_poses(outs[1])
    pred = torch.stack(outs).mean(0)
    return pred.cpu().numpy()
