"""The skeletons against the reference numbers (VideoPose3D, metadata.xml, PoseAug) and real poses."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose3d.h36m import skeleton as sk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# ---------------------------------------------------------------- reference numbers (h36m_data.md §2)
REF_NAMES_32 = [
    "Hips", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "Site",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "Site",
    "Spine", "Spine1", "Neck", "Head", "Site",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandThumb", "Site", "L_Wrist_End", "Site",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightHandThumb", "Site", "R_Wrist_End", "Site",
]
REF_PARENTS_32 = [-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30]
REF_LEFT_32 = [6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23]
REF_RIGHT_32 = [1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31]
# VP3D remove_joints([4,5,9,10,11,16,20,21,22,23,24,28,29,30,31])
REF_REMOVED_FOR_17 = [4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31]
REF_17_FROM_32 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
REF_NAMES_17 = ["Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
                "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"]
REF_PARENTS_17 = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
REF_LEFT_17 = [4, 5, 6, 11, 12, 13]
REF_RIGHT_17 = [1, 2, 3, 14, 15, 16]
REF_16_FROM_32 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 15, 17, 18, 19, 25, 26, 27]
REF_PARENTS_16 = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14]
REF_LEFT_16 = [4, 5, 6, 10, 11, 12]
REF_RIGHT_16 = [1, 2, 3, 13, 14, 15]
REF_MPII16_FROM_32 = [3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19]
REF_MPII16_LEFT = [3, 4, 5, 13, 14, 15]
REF_MPII16_RIGHT = [0, 1, 2, 10, 11, 12]
# PoseAug get_BoneVecbypose3d bone list (fixtures/README.md, poseaug-h36m)
POSEAUG_BONES_16 = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (8, 10),
                    (10, 11), (11, 12), (8, 13), (13, 14), (14, 15)]


def vp3d_remove_joints(parents: list[int], removed: list[int]) -> list[int]:
    """VideoPose3D's Skeleton.remove_joints, re-implemented: re-hang each kept joint on its
    nearest kept ancestor, then renumber."""
    parents = list(parents)
    for i in range(len(parents)):
        while parents[i] in removed:
            parents[i] = parents[parents[i]]
    kept = [j for j in range(len(parents)) if j not in removed]
    new_index = {old: new for new, old in enumerate(kept)}
    return [new_index[parents[j]] if parents[j] >= 0 else -1 for j in kept]


# ---------------------------------------------------------------- 32 joints
def test_32_joint_names_parents_and_sides_match_reference():
    assert list(sk.JOINT_NAMES_32) == REF_NAMES_32
    assert list(sk.PARENTS_32) == REF_PARENTS_32
    assert list(sk.LEFT_32) == REF_LEFT_32
    assert list(sk.RIGHT_32) == REF_RIGHT_32
    assert sk.H36M32.num_joints == 32


def test_32_sides_follow_official_names():
    # Every joint whose official name says Left/L_ is in LEFT_32, and likewise for right;
    # 'Site' end-effectors inherit the side of their parent.
    def side(j):
        name = REF_NAMES_32[j]
        if name == "Site":
            return side(REF_PARENTS_32[j])
        if name.startswith(("Left", "L_")):
            return "L"
        if name.startswith(("Right", "R_")):
            return "R"
        return None

    assert sorted(j for j in range(32) if side(j) == "L") == sorted(sk.LEFT_32)
    assert sorted(j for j in range(32) if side(j) == "R") == sorted(sk.RIGHT_32)


def test_duplicate_joints_match_reference():
    # QX: 11 duplicates 0 (pelvis), 16 and 24 duplicate 13 (base of neck), 20 duplicates 19, 28 duplicates 27.
    assert sk.DUPLICATES_32 == {11: 0, 16: 13, 24: 13, 20: 19, 28: 27}


# ---------------------------------------------------------------- 17 joints
def test_17_subset_matches_reference_and_vp3d_removal():
    assert list(sk.H36M17_FROM_32) == REF_17_FROM_32
    assert sorted(set(range(32)) - set(REF_REMOVED_FOR_17)) == list(sk.H36M17_FROM_32)
    assert list(sk.JOINT_NAMES_17) == REF_NAMES_17
    assert list(sk.PARENTS_17) == REF_PARENTS_17
    assert list(sk.LEFT_17) == REF_LEFT_17
    assert list(sk.RIGHT_17) == REF_RIGHT_17
    assert sk.H36M17.num_joints == 17


def test_17_parents_equal_vp3d_remove_joints_plus_shoulder_rewiring():
    parents = vp3d_remove_joints(REF_PARENTS_32, REF_REMOVED_FOR_17)
    # Without rewiring the shoulders hang from the spine (7); VP3D sets both to the thorax (8).
    assert parents[11] == 7 and parents[14] == 7
    parents[11] = parents[14] = 8
    assert list(sk.PARENTS_17) == parents


def test_17_symmetry_equals_32_symmetry_restricted():
    index17 = {old: new for new, old in enumerate(sk.H36M17_FROM_32)}
    assert list(sk.LEFT_17) == [index17[j] for j in REF_LEFT_32 if j in index17]
    assert list(sk.RIGHT_17) == [index17[j] for j in REF_RIGHT_32 if j in index17]


def test_vp3d_2d_metadata_matches_videopose3d_gt_file():
    # prepare_data_h36m.py: {'num_joints': skeleton.num_joints(),
    #                        'keypoints_symmetry': [skeleton.joints_left(), skeleton.joints_right()]}
    assert sk.VP3D_2D_METADATA == {"num_joints": 17, "keypoints_symmetry": [REF_LEFT_17, REF_RIGHT_17]}
    left, right = sk.VP3D_2D_METADATA["keypoints_symmetry"]
    assert isinstance(left, list) and isinstance(right, list)
    assert all(type(i) is int for i in left + right)


# ---------------------------------------------------------------- 16 joints
def test_16_joint_variants_match_reference():
    assert list(sk.H36M16_FROM_32) == REF_16_FROM_32
    assert [sk.H36M17_FROM_32[i] for i in sk.H36M16_FROM_17] == REF_16_FROM_32
    assert 9 not in sk.H36M16_FROM_17 and len(sk.H36M16_FROM_17) == 16
    assert list(sk.PARENTS_16) == REF_PARENTS_16
    assert list(sk.LEFT_16) == REF_LEFT_16
    assert list(sk.RIGHT_16) == REF_RIGHT_16
    assert "Neck/Nose" not in sk.H36M16.joint_names
    assert sk.H36M16.num_joints == 16


def test_16_parents_equal_17_with_neck_nose_removed():
    assert list(sk.PARENTS_16) == vp3d_remove_joints(REF_PARENTS_17, [9])


def test_16_bones_are_poseaugs_bone_list():
    assert sk.H36M16.bones == POSEAUG_BONES_16


def test_mpii16_order_matches_reference():
    assert list(sk.MPII16_FROM_32) == REF_MPII16_FROM_32
    assert list(sk.LEFT_MPII16) == REF_MPII16_LEFT
    assert list(sk.RIGHT_MPII16) == REF_MPII16_RIGHT
    # the sides follow the official 32-joint sides
    assert all(sk.MPII16_FROM_32[i] in REF_LEFT_32 for i in sk.LEFT_MPII16)
    assert all(sk.MPII16_FROM_32[i] in REF_RIGHT_32 for i in sk.RIGHT_MPII16)


def test_skeleton_registry():
    assert set(sk.SKELETONS) == {"h36m32", "h36m17", "h36m16"}
    assert sk.SKELETONS["h36m17"] is sk.H36M17


# ---------------------------------------------------------------- flip permutation
def _twin_name(name: str) -> str:
    for a, b in (("Left", "Right"), ("L_", "R_"), ("L", "R")):
        if name.startswith(a):
            return b + name[len(a):]
        if name.startswith(b):
            return a + name[len(b):]
    return name


@pytest.mark.parametrize("skel", [sk.H36M32, sk.H36M17, sk.H36M16], ids=lambda s: s.name)
def test_flip_permutation_is_an_involution_swapping_named_twins(skel):
    perm = skel.flip_permutation()
    n = skel.num_joints
    assert sorted(perm.tolist()) == list(range(n))
    np.testing.assert_array_equal(perm[perm], np.arange(n))
    for j in range(n):
        name = skel.joint_names[j]
        if name != "Site":
            assert skel.joint_names[perm[j]] == _twin_name(name), (j, name)
    # central joints stay, side joints move
    sides = set(skel.joints_left) | set(skel.joints_right)
    for j in range(n):
        assert (perm[j] != j) == (j in sides)
    # flipping is an automorphism of the tree: parent of the twin = twin of the parent
    for j, p in enumerate(skel.parents):
        if p >= 0:
            assert skel.parents[perm[j]] == perm[p]


def test_flip_permutation_17_by_name():
    perm = sk.H36M17.flip_permutation()
    names = sk.JOINT_NAMES_17
    for left, right in [("LHip", "RHip"), ("LKnee", "RKnee"), ("LFoot", "RFoot"),
                        ("LShoulder", "RShoulder"), ("LElbow", "RElbow"), ("LWrist", "RWrist")]:
        assert names[perm[names.index(left)]] == right
        assert names[perm[names.index(right)]] == left
    for centre in ("Hip", "Spine", "Thorax", "Neck/Nose", "Head"):
        assert perm[names.index(centre)] == names.index(centre)


# ---------------------------------------------------------------- to_17 / to_16
def test_to_17_and_to_16_select_the_right_joints():
    poses = np.arange(2 * 32 * 3, dtype=np.float64).reshape(2, 32, 3)
    p17 = sk.to_17(poses)
    assert p17.shape == (2, 17, 3)
    np.testing.assert_array_equal(p17, poses[:, REF_17_FROM_32])
    p16 = sk.to_16(p17)
    assert p16.shape == (2, 16, 3)
    np.testing.assert_array_equal(p16, poses[:, REF_16_FROM_32])
    # works on 2D poses and extra leading axes too
    assert sk.to_17(np.zeros((4, 3, 32, 2))).shape == (4, 3, 17, 2)
    assert sk.to_16(np.zeros((17, 2))).shape == (16, 2)


@pytest.mark.parametrize("shape", [(5, 17, 3), (5, 31, 3), (5, 96), (32, 3, 1), (96,), ()])
def test_to_17_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError):
        sk.to_17(np.zeros(shape))


@pytest.mark.parametrize("shape", [(5, 32, 3), (5, 16, 3), (5, 51), (17, 3, 1), (51,), ()])
def test_to_16_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError):
        sk.to_16(np.zeros(shape))


# ---------------------------------------------------------------- real poses
def test_bone_lengths_of_real_poses_match_poseaug_templates():
    """mmpose's real 3D joints (metres) give PoseAug's per-subject bone-length templates.

    Samples 0, 1, 2, 3 are S1, S5, S7, S8; template rows are S1, S5, S6, S7, S8. Bone
    (8, 9) Thorax->Head spans the movable Neck/Nose joint, so it is not rigid and is skipped.
    """
    body = np.load(FIXTURES / "mmpose-h36m" / "test_h36m_body3d.npz")
    templates = np.load(FIXTURES / "poseaug-h36m" / "hm36s15678_bl_templates.npy")
    lengths = sk.bone_lengths(sk.to_16(body["S"][..., :3]), sk.H36M16)
    assert lengths.shape == (4, 15)
    rigid = np.array([b != (8, 9) for b in POSEAUG_BONES_16])
    err = np.abs(lengths[:, rigid] - templates[[0, 1, 3, 4]][:, rigid])
    assert err.max() < 5e-5
    # and the mocap skeleton is left/right symmetric
    perm = sk.H36M16.flip_permutation()
    bones = sk.H36M16.bones
    for i, (p, c) in enumerate(bones):
        twin = bones.index((perm[p], perm[c]))
        np.testing.assert_allclose(lengths[:, i], lengths[:, twin], atol=5e-5)
