"""RS-Net: regular splitting graph network (Hassan & Ben Hamza, IEEE TIP 2023), with post-refinement.

A single-frame lifter on PoseAug's 16-joint tree (``H36M16``).  Each graph convolution splits the
neighbourhood by hop distance k = 0..3 (hop matrices A_k = Â^k, Â = D^-1/2 A D^-1/2 of the tree,
no self loops) and, within each hop, the adjacency into its diagonal and off-diagonal parts with
separate weights (weight unsharing).  Per hop k, with Ã_k = sym(A_k + B_k), B_k a learnable dense
16x16 offset (init 1e-6) and M_k a learnable per-joint modulation::

    out_k = (Ã_k ⊙ I)(M_k ⊙ X W_2k) + (Ã_k ⊙ (1 - I))(M_k ⊙ X W_2k+1) + X0 W2_k

X0 is the input of the first layer and the first layer's output everywhere else (initial-feature
injection, against over-smoothing).  Hidden layers concatenate the four hops (+ ``bias``, 4h
channels); the output layer sums them (+ ``bias_2``, 3 channels).  Network: input layer, four
residual pairs, an embedded-Gaussian non-local block over the 16 joints (its output BN starts at
zero, so it starts as the identity), output layer.

Post-refinement (Cai et al., ICCV 2019; ``post_refine=True``): the lifted depths, the *ground-truth*
absolute root depth and the camera intrinsics back-project the input 2D to a second 3D pose x_1;
an MLP sees both poses and blends their x, y per joint with weights s in (0, 1); z is kept.
It needs the true root depth at test time too, so its numbers are not purely monocular.

Attribute names follow the original repository (``gconv_input``, ``gconv_layers.gconv1..8``,
``gconv_output``, ``non_local``; ``W``, ``W2``, ``M``, ``adj2_0..3``, ``bias``, ``bias_2``), so
the state dict its training script saves for the network loads with ``load_state_dict``.  That
script saves the post-refinement MLP to a separate file (keys ``post_refine.0.weight`` ...); here
it lives under ``post_refine.`` (``post_refine.post_refine.0.weight`` ...), and
``merge_seed_state_dicts`` joins the two files.  The hop matrices are non-persistent buffers,
as in the original, where they are not in the state dict either.

Every graph convolution owns both ``bias`` and ``bias_2`` and uses one of them (as in the original,
whose parameter counts are the published ones: 588 unused values at h = 64).  The unused one is
registered with ``requires_grad=False``: it is never updated, and DistributedDataParallel and
optimisers need not cope with a parameter that never has a gradient.  Calling
``requires_grad_(True)`` on the whole model would undo that.

Differences from the original code, and why:

- Post-refinement dropout is not in place: in place after the ReLU, backward fails on current
  PyTorch ("modified by an inplace operation").
- Frames are lifted as a flat batch instead of ``squeeze()``-ing the input, which broke on batch
  size 1; no CUDA-only casts, so the module runs on any device.
- The hidden/output choice (concatenate or sum the hops) is an explicit flag of the layer rather
  than ``out_features == 3``, so ``hidden=3`` does not silently change the network.
- The post-refinement loss's symmetry term belongs to the trainer, not here.  The paper's term is
  the absolute left/right bone-length difference; the original code sums the signed difference
  (which a network can drive negative without limit) and, except for ``hr``/``sh`` 2D, indexes a
  17-joint bone list on 16-joint data.  ``SYMMETRIC_BONES_16`` gives the 16-joint pairs.
- The 4 residual pairs are fixed, as in the original, whose ``--num_layers`` is ignored.

The network predicts all 16 joints, the root included (trained towards 0 against root-zeroed
targets); evaluation subtracts the predicted root.  The refined pose keeps that convention.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..h36m.skeleton import LEFT_16, PARENTS_16, RIGHT_16
from .videopose import check_bool, check_in_channels, check_pose_input, check_positive_int, check_probability, set_bn_momentum

NUM_JOINTS = 16
NUM_HOPS = 4

#: (left bone, right bone) pairs on the 16-joint skeleton, each bone as (child, parent): the
#: bones the post-refinement's left/right symmetry penalty compares.
SYMMETRIC_BONES_16: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = tuple(
    ((left, PARENTS_16[left]), (right, PARENTS_16[right])) for left, right in zip(LEFT_16, RIGHT_16)
)

#: Camera vector layout expected by ``RSNet.forward`` with post-refinement.
CAMERA_FIELDS = ("root_depth", "fx", "fy", "cx", "cy")


def _normalised_adjacency(parents) -> np.ndarray:
    n = len(parents)
    a = np.zeros((n, n))
    for child, parent in enumerate(parents):
        if parent >= 0:
            a[child, parent] = a[parent, child] = 1.0
    deg = a.sum(1)
    inv_sqrt = np.divide(1.0, np.sqrt(deg), out=np.zeros(n), where=deg > 0)
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]


def normalised_adjacency(parents=PARENTS_16) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the tree given by ``parents`` (symmetric, no self loops), float32."""
    return torch.tensor(_normalised_adjacency(parents), dtype=torch.float32)


def hop_matrices(parents=PARENTS_16, hops: int = NUM_HOPS) -> torch.Tensor:
    """(hops, J, J): A_0 = I, A_k = Â^k (matrix powers, so walks that come back count too).

    Computed in float64 with NumPy, then stored as float32: a constant of the skeleton, and cheap
    to build under any default device (``torch.device("meta")`` included).
    """
    a1 = _normalised_adjacency(parents)
    mats = [np.eye(len(parents))]
    for _ in range(1, hops):
        mats.append(mats[-1] @ a1)
    return torch.tensor(np.stack(mats), dtype=torch.float32)


class RsNetGraphConv(nn.Module):
    """One regular-splitting graph convolution, (N, J, in) with X0 (N, J, in0) -> (N, J, 4*out | out).

    ``sum_hops`` False (hidden layers): the four hop outputs are concatenated and ``bias`` added;
    True (output layer): they are summed and ``bias_2`` added.  Both biases exist either way, as
    in the original; the unused one has ``requires_grad=False``.  ``in0`` defaults to ``in``
    (the original always feeds X0 of the same width as X).
    """

    def __init__(self, in_features: int, out_features: int, hops: torch.Tensor, sum_hops: bool = False,
                 in0_features: int | None = None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.sum_hops = sum_hops
        in0 = in_features if in0_features is None else in0_features
        j = hops.shape[-1]
        # registration (and RNG) order follows the original, so equal seeds give equal weights
        self.W = nn.Parameter(torch.empty(2 * NUM_HOPS, in_features, out_features))
        nn.init.xavier_uniform_(self.W, gain=1.414)
        self.W2 = nn.Parameter(torch.empty(NUM_HOPS, in0, out_features))
        nn.init.xavier_uniform_(self.W2, gain=1.414)
        self.M = nn.Parameter(torch.empty(NUM_HOPS, j, out_features))
        nn.init.xavier_uniform_(self.M, gain=1.414)
        for k in range(NUM_HOPS):
            # the hop matrices are fixed: buffers that follow .to(device) but stay out of the state dict
            self.register_buffer(f"adj_{k}", hops[k].clone(), persistent=False)
            self.register_parameter(f"adj2_{k}", nn.Parameter(torch.full((j, j), 1e-6)))
        bound = 1.0 / out_features ** 0.5
        self.bias = nn.Parameter(torch.empty(NUM_HOPS * out_features).uniform_(-bound, bound),
                                 requires_grad=not sum_hops)
        self.bias_2 = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound), requires_grad=sum_hops)

    def hop(self, k: int) -> torch.Tensor:
        """Ã_k = ((A_k + B_k) + (A_k + B_k)^T) / 2."""
        a = getattr(self, f"adj_{k}") + getattr(self, f"adj2_{k}")
        return (a + a.T) / 2

    def forward(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        # every weight in one matrix product each (a broadcast matmul would copy W per example)
        n, j, _ = x.shape
        out = self.out_features
        h = (x.reshape(n * j, -1) @ self.W.permute(1, 0, 2).reshape(self.in_features, -1)).reshape(n, j, -1, out)
        h0 = (x0.reshape(n * j, -1) @ self.W2.permute(1, 0, 2).reshape(x0.shape[-1], -1)).reshape(n, j, -1, out)
        off_diagonal = 1 - self.adj_0                               # adj_0 is the identity
        outs = []
        for k in range(NUM_HOPS):
            a = self.hop(k)
            self_part = torch.diagonal(a).unsqueeze(-1) * (self.M[k] * h[:, :, 2 * k])
            # the J x J graph product over all examples at once: (J, J) @ (J, N * out)
            mixed = (self.M[k] * h[:, :, 2 * k + 1]).transpose(0, 1).reshape(j, n * out)
            neighbours = ((a * off_diagonal) @ mixed).reshape(j, n, out).transpose(0, 1)
            outs.append(self_part + neighbours + h0[:, :, k])
        if self.sum_hops:
            return torch.stack(outs).sum(0) + self.bias_2
        return torch.cat(outs, dim=-1) + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, {'sum' if self.sum_hops else 'concat'} hops"


class _GraphConvI(nn.Module):
    """RS conv -> LayerNorm(4*out) -> dropout: the first layer of a residual pair."""

    def __init__(self, hops: torch.Tensor, in_features: int, out_features: int, dropout: float):
        super().__init__()
        self.gconv = RsNetGraphConv(in_features, out_features, hops)
        self.ln = nn.LayerNorm(NUM_HOPS * out_features)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        x = self.ln(self.gconv(x, x0))
        return x if self.dropout is None else self.dropout(x)


class _GraphConvII(nn.Module):
    """RS conv -> GELU, or GELU -> dropout -> GELU when dropout is on (the original's double GELU)."""

    def __init__(self, hops: torch.Tensor, in_features: int, out_features: int, dropout: float):
        super().__init__()
        self.gconv = RsNetGraphConv(in_features, out_features, hops)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        x = self.gconv(x, x0)
        if self.dropout is not None:
            x = self.dropout(self.act(x))
        return self.act(x)


class _ResGraphConv(nn.Module):
    """Four residual pairs (_GraphConvI, _GraphConvII) of width 4h, each conv fed the same X0."""

    def __init__(self, hops: torch.Tensor, hidden: int, dropout: float):
        super().__init__()
        for i in range(1, 9):
            block = _GraphConvI if i % 2 else _GraphConvII
            self.add_module(f"gconv{i}", block(hops, NUM_HOPS * hidden, hidden, dropout))

    def forward(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        for i in range(1, 9, 2):
            first, second = getattr(self, f"gconv{i}"), getattr(self, f"gconv{i + 1}")
            x = x + second(first(x, x0), x0)
        return x


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over the joints, as the original's 2D block on a 1 x J map.

    θ, φ, g: 1x1 convs C -> C/2; y = softmax(θᵀφ) g; out = x + BN(conv(y)) with the BN's weight
    and bias at zero, so the block starts as the identity.  (N, J, C) -> (N, J, C).
    """

    def __init__(self, in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.inter_channels = max(in_channels // 2, 1)
        self.g = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.W = nn.Sequential(nn.Conv2d(self.inter_channels, in_channels, 1), nn.BatchNorm2d(in_channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.phi = nn.Conv2d(in_channels, self.inter_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, j, _ = x.shape
        m = x.transpose(1, 2).unsqueeze(2)                                   # (N, C, 1, J)
        g = self.g(m).reshape(n, self.inter_channels, j).transpose(1, 2)     # (N, J, C/2)
        theta = self.theta(m).reshape(n, self.inter_channels, j).transpose(1, 2)
        phi = self.phi(m).reshape(n, self.inter_channels, j)
        attention = F.softmax(torch.matmul(theta, phi), dim=-1)              # (N, J, J)
        y = torch.matmul(attention, g).transpose(1, 2).reshape(n, self.inter_channels, 1, j)
        return (self.W(y) + m)[:, :, 0].transpose(1, 2)


class PostRefine(nn.Module):
    """Per-joint blend of two 3D poses: s = MLP(both, flattened) in (0,1)^{J x 2} weights x, y.

    (N, J, 3) lifted pose and (N, J, 3) back-projected pose -> (N, J, 3) with
    x, y = s * lifted + (1 - s) * back-projected and z = the lifted z.  The input is flattened per
    joint as (x, y, z, x_1, y_1, z_1), the original's order, so its weights load unchanged.
    """

    def __init__(self, num_joints: int = NUM_JOINTS, hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        self.post_refine = nn.Sequential(
            nn.Linear(6 * num_joints, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),  # not in place: in place after the ReLU breaks backward
            nn.Linear(hidden, 2 * num_joints),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, x_1: torch.Tensor) -> torch.Tensor:
        n, j, _ = x.shape
        s = self.post_refine(torch.cat((x, x_1), dim=-1).reshape(n, -1)).reshape(n, j, 2)
        xy = s * x[..., :2] + (1 - s) * x_1[..., :2]
        return torch.cat((xy, x[..., 2:]), dim=-1)


def back_project(uv: torch.Tensor, depth: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Root-relative 3D from 2D, predicted relative depths and the true root depth.

    uv (N, J, 2) normalised screen coordinates; depth (N, J) predicted z (joint 0's is ignored);
    camera (N, 5) = [root_depth, fx, fy, cx, cy] in the same units as uv.  Z_0 = root_depth,
    Z_j = depth_j + Z_0 (j >= 1), (X, Y) = (uv - c) Z / f; the result minus its root.
    """
    z0 = camera[:, :1]
    z = torch.cat((z0, depth[:, 1:] + z0), dim=1).unsqueeze(-1)          # (N, J, 1)
    xy = (uv - camera[:, None, 3:5]) * z / camera[:, None, 1:3]
    xyz = torch.cat((xy, z), dim=-1)
    return xyz - xyz[:, :1]


class RSNet(nn.Module):
    """RS-Net lifter, (B, T, 16, 2) -> (B, T, 16, 3), every frame independently.

    ``hidden`` is h (the original's ``-z``; 64 for GT 2D, 96 for detections; hidden layers are 4h
    wide).  ``dropout`` 0 removes the dropout layers (and the second GELU of _GraphConvII, as in
    the original).  ``post_refine`` adds the post-refinement MLP (``refine_hidden`` units,
    ``refine_dropout``), which needs ``camera`` in ``forward``.
    """

    receptive_field = 1
    pad = 0
    causal_shift = 0

    def __init__(self, num_joints_in: int = 16, num_joints_out: int = 16, hidden: int = 64, dropout: float = 0.2,
                 post_refine: bool = False, refine_hidden: int = 1024, refine_dropout: float = 0.5,
                 in_channels: int = 2):
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        for name, value in (("num_joints_in", num_joints_in), ("num_joints_out", num_joints_out)):
            if check_positive_int(name, value) != NUM_JOINTS:
                raise ValueError(f"{name}={value}: RS-Net's graph is the {NUM_JOINTS}-joint H36M16 tree")
        self.num_joints_in = self.num_joints_out = NUM_JOINTS
        self.hidden = check_positive_int("hidden", hidden)
        self.dropout = check_probability("dropout", dropout)
        check_bool("post_refine", post_refine)
        check_positive_int("refine_hidden", refine_hidden)
        check_probability("refine_dropout", refine_dropout)

        hops = hop_matrices(PARENTS_16)
        width = NUM_HOPS * hidden
        self.gconv_input = _GraphConvII(hops, self.in_channels, hidden, self.dropout)
        self.gconv_layers = _ResGraphConv(hops, hidden, self.dropout)
        self.gconv_output = RsNetGraphConv(width, 3, hops, sum_hops=True)
        self.non_local = NonLocalBlock(width)
        self.post_refine = PostRefine(NUM_JOINTS, refine_hidden, refine_dropout) if post_refine else None

    def set_bn_momentum(self, momentum: float) -> None:
        set_bn_momentum(self, momentum)

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 16, C) -> (N, 16, 3): the network without post-refinement."""
        out = self.gconv_input(x, x)
        x0 = out
        out = self.gconv_layers(out, x0)
        out = self.non_local(out)
        return self.gconv_output(out, x0)

    def forward(self, x: torch.Tensor, camera: torch.Tensor | None = None, outputs: bool = False):
        """``camera``: (B, T, 5) or (B, 5) [root_depth, fx, fy, cx, cy], used only by post-refinement.

        Returns the final pose, or with ``outputs`` {"pose": final, "coarse": before refinement}.
        Training outputs keep the predicted root (the loss pulls it to the origin); evaluation
        outputs are relative to it, as RS-Net's test code subtracts it before scoring.
        """
        check_pose_input(x, NUM_JOINTS, 1, self.in_channels)
        b, t = x.shape[:2]
        flat = x.reshape(b * t, NUM_JOINTS, self.in_channels)
        coarse = self.lift(flat)
        pose = coarse
        if self.post_refine is not None:  # back-projects the x, y of the input (not its scores)
            pose = self.post_refine(coarse, back_project(flat[..., :2], coarse[..., 2], self._camera(camera, b, t, x)))
        shape = (b, t, NUM_JOINTS, 3)
        coarse = coarse.reshape(shape)
        pose = coarse if self.post_refine is None else pose.reshape(shape)
        if not self.training:  # RS-Net scores its prediction minus the predicted root
            coarse = coarse - coarse[:, :, :1]
            pose = coarse if self.post_refine is None else pose - pose[:, :, :1]
        return {"pose": pose, "coarse": coarse} if outputs else pose

    @staticmethod
    def _camera(camera, b: int, t: int, x: torch.Tensor) -> torch.Tensor:
        """(B*T, 5) camera rows from (B, 5) or (B, T, 5)."""
        if camera is None:
            raise ValueError("RSNet(post_refine=True) needs camera=(B, 5) or (B, T, 5) "
                             f"[{', '.join(CAMERA_FIELDS)}]: the true root depth and the intrinsics")
        cam = torch.as_tensor(camera, dtype=x.dtype, device=x.device)
        if cam.shape == (b, 5):
            cam = cam.unsqueeze(1).expand(b, t, 5)
        elif cam.shape != (b, t, 5):
            raise ValueError(f"camera must have shape ({b}, 5) or ({b}, {t}, 5) "
                             f"[{', '.join(CAMERA_FIELDS)}], got {tuple(cam.shape)}")
        return cam.reshape(b * t, 5)


def merge_seed_state_dicts(rsnet: Mapping[str, torch.Tensor],
                           post_refine: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One state dict for ``RSNet`` from the original's two files (network, post-refinement MLP)."""
    merged = dict(rsnet)
    if post_refine is not None:
        merged.update({f"post_refine.{k}": v for k, v in post_refine.items()})
    return merged
