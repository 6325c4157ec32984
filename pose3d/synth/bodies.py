"""Per-subject body proportions of the synthetic stand-in, as 32-joint bone lengths in mm.

S1, S5, S6, S7 and S8 use real bone lengths: PoseAug's templates for those subjects
(``hm36s15678_bl_templates.npy``, 16-joint skeleton, metres), copied here as data. The
other subjects get deterministic, plausible proportions derived from the mean of those five.
Bones that the 16-joint skeleton lacks (feet, hands, the head split) follow the real S1
32-joint offsets (Martinez et al.'s Human3.6M skeleton), scaled with the nearest real bone.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pose3d.synth.kinematics import HEAD_BEND_RAD

SUBJECTS: tuple[str, ...] = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11")

#: PoseAug bones, as (parent, child) in the 16-joint order (Hip, RHip, RKnee, RFoot, LHip,
#: LKnee, LFoot, Spine, Thorax, Head, LShoulder, LElbow, LWrist, RShoulder, RElbow, RWrist).
TEMPLATE_BONES_16: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8),
    (8, 9), (8, 10), (10, 11), (11, 12), (8, 13), (13, 14), (14, 15),
)

#: Real bone lengths in metres (rows of hm36s15678_bl_templates.npy, float32 values).
TEMPLATES_M: dict[str, tuple[float, ...]] = {
    "S1": (0.132948, 0.442895, 0.454206, 0.132949, 0.442895, 0.454207, 0.233473, 0.257078,
           0.181882, 0.151034, 0.278883, 0.251733, 0.151032, 0.278893, 0.251729),
    "S5": (0.119313, 0.428286, 0.442444, 0.119313, 0.428286, 0.442444, 0.224318, 0.254055,
           0.166181, 0.143096, 0.264585, 0.248620, 0.143098, 0.264584, 0.248621),
    "S6": (0.142614, 0.486571, 0.461493, 0.142612, 0.486564, 0.461494, 0.262211, 0.260009,
           0.192472, 0.149375, 0.301008, 0.257915, 0.149374, 0.301008, 0.257915),
    "S7": (0.135879, 0.448615, 0.438010, 0.135879, 0.448615, 0.438008, 0.226246, 0.255408,
           0.168726, 0.139718, 0.275564, 0.247299, 0.139714, 0.275572, 0.247298),
    "S8": (0.146537, 0.452147, 0.438633, 0.146537, 0.452146, 0.438634, 0.261216, 0.251024,
           0.212796, 0.169316, 0.289908, 0.244177, 0.169316, 0.289907, 0.244178),
}

#: Scale factors for subjects without real lengths, applied to the five-subject mean:
#: (legs, pelvis and shoulder width, spine, head, arms). Chosen by hand to spread the
#: subjects over about the range of the real ones; S9 and S11 stay inside it.
_DERIVED_SCALES: dict[str, tuple[float, float, float, float, float]] = {
    "S2": (1.01, 1.03, 1.02, 1.00, 1.00),
    "S3": (1.04, 0.98, 1.01, 1.02, 1.04),
    "S4": (0.96, 0.96, 0.97, 0.98, 0.97),
    "S9": (1.02, 1.05, 1.03, 1.01, 1.03),
    "S10": (0.97, 1.01, 0.98, 0.96, 0.98),
    "S11": (1.03, 0.99, 1.00, 0.98, 1.02),
}
_GROUPS = ("legs", "width", "spine", "head", "arms")
_TEMPLATE_GROUP = ("width", "legs", "legs", "width", "legs", "legs", "spine", "spine",
                   "head", "width", "arms", "arms", "width", "arms", "arms")

# Real S1 lengths (mm) of the bones the 16-joint skeleton lacks, from the 32-joint offsets.
_S1_HEAD_LOW_MM = 121.134938     # Neck -> Head
_S1_HEAD_HIGH_MM = 115.002227    # Head -> head-top Site
_S1_TOE_BASE_MM = 162.767      # Foot -> ToeBase
_S1_TOE_MM = 74.9997           # ToeBase -> Site
_S1_THUMB_MM = 99.9998         # HandThumb -> Site
_S1_L_HAND_END_MM = 100.000188  # LeftHand -> L_Wrist_End
_S1_R_HAND_END_MM = 137.499922  # RightHand -> R_Wrist_End


@dataclass(frozen=True)
class Body:
    """One subject's skeleton: ``bone_mm[j]`` is the length of the bone parent(j) -> j."""

    subject: str
    bone_mm: np.ndarray
    template_m: np.ndarray
    real: bool

    @property
    def shin_mm(self) -> float:
        return float(self.bone_mm[3])

    @property
    def leg_mm(self) -> float:
        """Hip-joint-to-ankle length, the scale for root translations."""
        return float(self.bone_mm[2] + self.bone_mm[3])

    @property
    def head_scale(self) -> float:
        """Head size relative to S1's, for targets around the face."""
        return float(self.template_m[8] / TEMPLATES_M["S1"][8])


def _check(subject: str) -> None:
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject {subject!r}; expected one of {', '.join(SUBJECTS)}")


def template_m(subject: str) -> np.ndarray:
    """The 15 PoseAug bone lengths (m) of a subject: real ones, or the derived ones."""
    _check(subject)
    if subject in TEMPLATES_M:
        return np.array(TEMPLATES_M[subject], dtype=np.float64)
    mean = np.mean([TEMPLATES_M[s] for s in TEMPLATES_M], axis=0)
    scale = dict(zip(_GROUPS, _DERIVED_SCALES[subject]))
    out = mean * np.array([scale[g] for g in _TEMPLATE_GROUP])
    # Keep the mean's exact left/right symmetry (the real rows differ by a few micrometres).
    for right, left in ((0, 3), (1, 4), (2, 5), (9, 12), (10, 13), (11, 14)):
        out[right] = out[left] = 0.5 * (out[right] + out[left])
    return np.round(out, 6)


@lru_cache(maxsize=None)
def body(subject: str) -> Body:
    """The subject's 32 bone lengths (mm); zero where a joint sits on its parent."""
    t = template_m(subject) * 1000.0
    s1 = np.array(TEMPLATES_M["S1"]) * 1000.0
    bone = np.zeros(32)
    bone[1], bone[2], bone[3] = t[0], t[1], t[2]
    bone[6], bone[7], bone[8] = t[3], t[4], t[5]
    for foot, shin in ((4, t[2]), (9, t[5])):
        bone[foot] = _S1_TOE_BASE_MM * shin / s1[2]
        bone[foot + 1] = _S1_TOE_MM * shin / s1[2]
    # The shoulder joints 16 and 24 hang from Spine1 and sit exactly on the Neck.
    bone[12], bone[13], bone[16], bone[24] = t[6], t[7], t[7], t[7]
    # Split Neck -> head top (the template bone) into the two real head bones: same ratio
    # as S1 and the fixed bend of kinematics.HEAD_BEND_RAD between them.
    ratio = _S1_HEAD_LOW_MM / _S1_HEAD_HIGH_MM
    high = t[8] / np.sqrt(ratio ** 2 + 1 + 2 * ratio * np.cos(HEAD_BEND_RAD))
    bone[14], bone[15] = ratio * high, high
    bone[17], bone[18], bone[19] = t[9], t[10], t[11]
    bone[25], bone[26], bone[27] = t[12], t[13], t[14]
    for thumb_site, hand_end, forearm, end_s1 in ((21, 22, t[11], _S1_L_HAND_END_MM),
                                                  (29, 30, t[14], _S1_R_HAND_END_MM)):
        bone[thumb_site] = _S1_THUMB_MM * forearm / s1[11]
        bone[hand_end] = end_s1 * forearm / s1[11]
    bone.setflags(write=False)
    return Body(subject, bone, t / 1000.0, subject in TEMPLATES_M)


def bone_lengths_mm(subject: str) -> np.ndarray:
    """Copy of :func:`body`'s 32 bone lengths, index j = bone from PARENTS_32[j] to j."""
    return body(subject).bone_mm.copy()

