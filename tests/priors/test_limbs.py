"""ContextPose's limb list and the limb_stats.h5 file it reads."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pose3d.h36m.skeleton import H36M17, MPII16_FROM_32, H36M17_FROM_32
from pose3d.priors.limbs import (
    CONTEXTPOSE_LIMBS,
    CONTEXTPOSE_LIMBS_LT17,
    H36M17_FROM_LT17,
    limb_lengths,
    limb_statistics,
    read_limb_stats,
    write_limb_stats,
)


def test_lt_order_is_mpii16_plus_nose():
    """learnable-triangulation's 17 joints = MPII-16 in 32-joint indices, then Neck/Nose (32-index 14)."""
    lt17_from_32 = tuple(MPII16_FROM_32) + (14,)
    assert tuple(H36M17_FROM_32[i] for i in H36M17_FROM_LT17) == lt17_from_32
    assert H36M17_FROM_LT17[6] == 0  # LT's root is the pelvis


def test_limbs_are_the_skeleton_bones():
    assert len(CONTEXTPOSE_LIMBS) == 16 and CONTEXTPOSE_LIMBS_LT17[0] == (0, 1)
    assert {frozenset(limb) for limb in CONTEXTPOSE_LIMBS} == {frozenset(b) for b in H36M17.bones}
    assert CONTEXTPOSE_LIMBS[:3] == ((3, 2), (2, 1), (1, 0))  # right ankle-knee, knee-hip, hip-root


def skeleton(lengths: np.ndarray) -> np.ndarray:
    """A 17-joint pose whose bone to each joint has the given length (unit direction per bone)."""
    dirs = np.random.default_rng(0).normal(size=(17, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pose = np.zeros((17, 3))
    for j, p in enumerate(H36M17.parents):
        if p >= 0:
            pose[j] = pose[p] + lengths[j] * dirs[j]
    return pose


def moved(pose: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rot = Rotation.random(n, random_state=seed).as_matrix()
    return np.einsum("nij,kj->nki", rot, pose) + rng.uniform(-3000, 3000, size=(n, 1, 3))


def test_known_bone_lengths_come_out_exactly():
    bone = np.arange(17, dtype=np.float64) * 10.0 + 50.0  # length of the bone ending at joint j
    a = moved(skeleton(bone), 100, 1)
    b = moved(skeleton(bone * 1.1), 300, 2)
    expected_a = np.array([bone[j if H36M17.parents[j] == i else i] for i, j in CONTEXTPOSE_LIMBS])  # child's bone
    np.testing.assert_allclose(limb_lengths(a), np.broadcast_to(expected_a, (100, 16)), atol=1e-9)

    pooled, per = limb_statistics({"S1": {"Walking 1": a[:40], "Walking": a[40:]}, "S5": {"Eating": b}}, ["S1", "S5"])
    np.testing.assert_allclose(per["S1"].mean, expected_a, atol=1e-9)
    np.testing.assert_allclose(per["S1"].std, 0.0, atol=1e-9)
    np.testing.assert_allclose(per["S5"].mean, expected_a * 1.1, atol=1e-9)
    assert per["S1"].count == 100 and per["S5"].count == 300 and pooled.count == 400
    # two-valued distribution: mean (100 a + 300 b) / 400, std |a - b| sqrt(100 * 300) / 400
    np.testing.assert_allclose(pooled.mean, (100 * expected_a + 300 * 1.1 * expected_a) / 400, atol=1e-9)
    np.testing.assert_allclose(pooled.std, 0.1 * expected_a * np.sqrt(100 * 300) / 400, atol=1e-9)
    with pytest.raises(ValueError, match="S9"):
        limb_statistics({"S1": {}}, ["S9"])
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        limb_lengths(np.zeros((5, 16, 3)))


def test_h5_has_contextpose_keys(tmp_path):
    bone = np.full(17, 100.0)
    pooled, per = limb_statistics({"S1": {"A": moved(skeleton(bone), 10, 3)}}, ["S1"])
    path = tmp_path / "priors" / "limb_stats.h5"
    write_limb_stats(path, pooled, per, ["S1"])
    assert [p.name for p in path.parent.iterdir()] == ["limb_stats.h5"]  # no temporary left behind
    with h5py.File(path, "r") as f:  # what ContextPose does: f['mean'][:], f['std'][:]
        mean, std = f["mean"][:], f["std"][:]
        assert mean.shape == (16,) and std.shape == (16,)
        np.testing.assert_allclose(mean, 100.0, atol=1e-9)
        np.testing.assert_allclose(std, 0.0, atol=1e-9)
        assert f.attrs["unit"] == "mm"
        np.testing.assert_array_equal(f["limbs_lt17"][:], np.array(CONTEXTPOSE_LIMBS_LT17))
        np.testing.assert_allclose(f["per_subject/S1/mean"][:], mean)
    back = read_limb_stats(path)
    assert back.count == 10 and np.allclose(back.mean, pooled.mean)
