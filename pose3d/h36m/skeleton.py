"""The Human3.6M skeletons: the official 32 joints and the 17/16-joint subsets the seeds use.

Every joint order in the project comes from here, so that a model, a metric and an
export can never disagree about which index is the left wrist.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Official names of the 32 mocap joints (metadata.xml ``skel_pos``), in CDF order.
JOINT_NAMES_32: tuple[str, ...] = (
    "Hips", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "Site",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "Site",
    "Spine", "Spine1", "Neck", "Head", "Site",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandThumb", "Site",
    "L_Wrist_End", "Site",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightHandThumb", "Site",
    "R_Wrist_End", "Site",
)

#: Parent of each of the 32 joints (0-based, -1 for the root).
PARENTS_32: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14,
    12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30,
)
LEFT_32: tuple[int, ...] = (6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23)
RIGHT_32: tuple[int, ...] = (1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31)

#: The standard 17-joint subset (VideoPose3D, mmpose), as indices into the 32.
H36M17_FROM_32: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
JOINT_NAMES_17: tuple[str, ...] = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
    "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)
#: Parents after VideoPose3D's rewiring (shoulders hang from the thorax).
PARENTS_17: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LEFT_17: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
RIGHT_17: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

#: PoseAug / RS-Net / SemGCN 16 joints: the 17 without Neck/Nose (17-index 9).
H36M16_FROM_32: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 15, 17, 18, 19, 25, 26, 27)
H36M16_FROM_17: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16)
PARENTS_16: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14)
LEFT_16: tuple[int, ...] = (4, 5, 6, 10, 11, 12)
RIGHT_16: tuple[int, ...] = (1, 2, 3, 13, 14, 15)

#: Stacked-Hourglass / MPII 16-joint order (3d-pose-baseline, learnable-triangulation "mpii").
MPII16_FROM_32: tuple[int, ...] = (3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19)
#: learnable-triangulation's 17 joints (its labels' ``keypoints``): MPII-16 + Neck/Nose, root at index 6.
LT17_FROM_32: tuple[int, ...] = MPII16_FROM_32 + (14,)
LEFT_MPII16: tuple[int, ...] = (3, 4, 5, 13, 14, 15)
RIGHT_MPII16: tuple[int, ...] = (0, 1, 2, 10, 11, 12)

#: Joints of the 32 that duplicate another joint's position in the mocap (joint -> twin).
DUPLICATES_32: dict[int, int] = {11: 0, 16: 13, 24: 13, 20: 19, 28: 27}


@dataclass(frozen=True)
class Skeleton:
    """A joint order with its tree and left/right symmetry."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, in child order."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints (for flip augmentation)."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm


H36M32 = Skeleton("h36m32", JOINT_NAMES_32, PARENTS_32, LEFT_32, RIGHT_32)
H36M17 = Skeleton("h36m17", JOINT_NAMES_17, PARENTS_17, LEFT_17, RIGHT_17)
H36M16 = Skeleton(
    "h36m16",
    tuple(JOINT_NAMES_17[i] for i in H36M16_FROM_17),
    PARENTS_16, LEFT_16, RIGHT_16,
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M32, H36M17, H36M16)}

#: ``metadata`` of VideoPose3D's ``data_2d_h36m_gt.npz`` (no ``layout_name`` in the GT file).
VP3D_2D_METADATA: dict = {
    "num_joints": 17,
    "keypoints_symmetry": [list(LEFT_17), list(RIGHT_17)],
}


def to_17(poses32: np.ndarray) -> np.ndarray:
    """Select the 17 standard joints from (..., 32, D) poses."""
    if poses32.ndim < 2 or poses32.shape[-2] != 32:
        raise ValueError(f"expected 32 joints on axis -2, got shape {poses32.shape}")
    return poses32[..., list(H36M17_FROM_32), :]


def to_16(poses17: np.ndarray) -> np.ndarray:
    """Drop Neck/Nose from (..., 17, D) poses, giving PoseAug's 16 joints."""
    if poses17.ndim < 2 or poses17.shape[-2] != 17:
        raise ValueError(f"expected 17 joints on axis -2, got shape {poses17.shape}")
    return poses17[..., list(H36M16_FROM_17), :]


def bone_lengths(poses: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Length of each (parent, child) bone, shape (..., num_bones)."""
    p, c = zip(*skeleton.bones)
    return np.linalg.norm(poses[..., list(c), :] - poses[..., list(p), :], axis=-1)
