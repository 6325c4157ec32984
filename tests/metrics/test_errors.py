"""Per-frame metrics against hand-computed values, invariances and a per-frame reference Procrustes."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d.metrics import errors as E

RIGHT_TRIANGLE = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]])


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _random_poses(rng: np.random.Generator, n: int = 8, j: int = 17) -> np.ndarray:
    return rng.normal(scale=300.0, size=(n, j, 3))


def _reference_procrustes_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Umeyama (1991) per frame, written independently: column vectors, D = diag(1, 1, det)."""
    out = []
    for p, t in zip(pred, target):
        mp, mt = p.mean(0), t.mean(0)
        pc, tc = p - mp, t - mt
        cov = tc.T @ pc / len(p)
        u, d, vt = np.linalg.svd(cov)
        s = np.eye(3)
        if np.linalg.det(u) * np.linalg.det(vt) < 0:
            s[2, 2] = -1
        rot = u @ s @ vt
        var_p = (pc ** 2).sum() / len(p)
        scale = np.trace(np.diag(d) @ s) / var_p
        aligned = scale * pc @ rot.T + mt
        out.append(np.linalg.norm(aligned - t, axis=-1).mean())
    return np.array(out)


def test_mpjpe_hand_values():
    target = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    pred = target + np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    assert E.per_joint_errors(pred, target).tolist() == [[0.0, 5.0]]
    assert E.mpjpe_per_frame(pred, target).tolist() == [2.5]
    collapsed = RIGHT_TRIANGLE.copy()
    collapsed[2] = 0.0  # the 4-long leg's end moved onto the right angle
    assert E.mpjpe_per_frame(collapsed[None], RIGHT_TRIANGLE[None])[0] == pytest.approx(4 / 3)


def test_identical_poses_score_zero_and_float64():
    rng = np.random.default_rng(0)
    poses = _random_poses(rng).astype(np.float32)
    for fn in (E.mpjpe_per_frame, E.p_mpjpe_per_frame, E.n_mpjpe_per_frame):
        out = fn(poses, poses)
        assert out.dtype == np.float64 and out.shape == (8,)
        np.testing.assert_allclose(out, 0.0, atol=1e-9)
    assert E.mpjve_per_frame(poses, poses).shape == (7,)


def test_root_relative():
    poses = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    rel = E.root_relative(poses)
    np.testing.assert_array_equal(rel[:, 0], 0.0)
    np.testing.assert_array_equal(rel[:, 2], poses[:, 2] - poses[:, 0])
    np.testing.assert_array_equal(E.root_relative(poses, root=1)[:, 1], 0.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal shape"):
        E.mpjpe_per_frame(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))


def test_p_mpjpe_zero_for_similar_copy_of_target():
    rng = np.random.default_rng(1)
    target = _random_poses(rng)
    rot = _random_rotation(rng)
    pred = 0.37 * target @ rot.T + rng.normal(size=3) * 1000
    np.testing.assert_allclose(E.p_mpjpe_per_frame(pred, target), 0.0, atol=1e-8)
    tri = 2.0 * RIGHT_TRIANGLE @ np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]).T + 5.0
    assert E.p_mpjpe_per_frame(tri[None], RIGHT_TRIANGLE[None])[0] == pytest.approx(0.0, abs=1e-12)


def test_p_mpjpe_invariant_to_similarity_of_prediction():
    rng = np.random.default_rng(2)
    target = _random_poses(rng)
    pred = target + rng.normal(scale=40.0, size=target.shape)
    base = E.p_mpjpe_per_frame(pred, target)
    assert np.all(base > 1.0)
    for _ in range(3):
        moved = rng.uniform(0.2, 5.0) * pred @ _random_rotation(rng).T + rng.normal(size=3) * 500
        np.testing.assert_allclose(E.p_mpjpe_per_frame(moved, target), base, rtol=1e-9)


def test_p_mpjpe_does_not_undo_a_reflection():
    rng = np.random.default_rng(3)
    target = _random_poses(rng)
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    err = E.p_mpjpe_per_frame(mirrored, target)
    assert np.all(err > 10.0)  # a reflection is not a rotation; with reflections allowed this would be 0
    np.testing.assert_allclose(err, _reference_procrustes_error(mirrored, target), rtol=1e-9)


def test_batched_procrustes_matches_per_frame_reference():
    rng = np.random.default_rng(4)
    target = _random_poses(rng, n=32)
    pred = 0.8 * target @ _random_rotation(rng).T + rng.normal(scale=80.0, size=target.shape)
    np.testing.assert_allclose(E.p_mpjpe_per_frame(pred, target), _reference_procrustes_error(pred, target),
                               rtol=1e-9)


def test_procrustes_of_a_collapsed_prediction_is_finite():
    target = RIGHT_TRIANGLE[None]
    out = E.procrustes_align(np.zeros_like(target), target)
    np.testing.assert_allclose(out[0], np.broadcast_to(target[0].mean(0), (3, 3)))


def test_n_mpjpe_hand_value_and_scale_invariance():
    target = np.array([[[1.0, 0, 0], [0, 1, 0]]])
    pred = np.array([[[2.0, 0, 0], [0, 0, 0]]])
    # s = <t, p> / <p, p> = 2 / 4 -> scaled pred (1,0,0), (0,0,0) -> errors 0 and 1
    assert E.n_mpjpe_per_frame(pred, target)[0] == pytest.approx(0.5)
    rng = np.random.default_rng(5)
    t = _random_poses(rng)
    p = t + rng.normal(scale=30.0, size=t.shape)
    base = E.n_mpjpe_per_frame(p, t)
    np.testing.assert_allclose(E.n_mpjpe_per_frame(3.7 * p, t), base, rtol=1e-9)
    np.testing.assert_allclose(E.n_mpjpe_per_frame(2.0 * t, t), 0.0, atol=1e-9)
    assert E.n_mpjpe_per_frame(np.zeros_like(t), t) == pytest.approx(E.mpjpe_per_frame(np.zeros_like(t), t))


def test_mpjve_hand_values():
    rng = np.random.default_rng(6)
    target = _random_poses(rng, n=5)
    np.testing.assert_allclose(E.mpjve_per_frame(target + np.array([10.0, -3.0, 7.0]), target), 0.0, atol=1e-9)
    static = np.zeros((4, 2, 3))
    moving = static.copy()
    moving[:, 1, 2] = np.arange(4.0)  # joint 1 moves 1 unit per frame, joint 0 stays
    np.testing.assert_allclose(E.mpjve_per_frame(moving, static), [0.5, 0.5, 0.5])


def test_pck_and_auc_hand_values():
    assert len(E.AUC_THRESHOLDS_MM) == 31
    all100 = np.full((2, 17), 100.0)
    np.testing.assert_allclose(E.pck(all100), 1.0)
    # 100 < t holds for t = 105, ..., 150: 10 of the 31 thresholds
    np.testing.assert_allclose(E.auc(all100), 10 / 31)
    np.testing.assert_allclose(E.auc(np.full(17, 50.0)), 20 / 31)  # t = 55, ..., 150
    assert E.pck(np.full(17, 150.0)) == 0.0  # strict "<"
    mixed = np.array([[0.0, 200.0]])
    np.testing.assert_allclose(E.pck(mixed), [0.5])
    np.testing.assert_allclose(E.auc(mixed), [(30 / 31 + 0.0) / 2])  # 0 < t for every t but 0
    assert E.pck(np.array([10.0, 40.0, 60.0]), threshold=50.0) == pytest.approx(2 / 3)


def test_sequence_metrics():
    rng = np.random.default_rng(7)
    target = _random_poses(rng, n=6)
    pred = target + rng.normal(scale=50.0, size=target.shape)
    metrics, joint = E.sequence_metrics(pred, target)
    assert set(metrics) == {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc"}
    assert joint.shape == (6, 17)
    assert metrics["mpjve"].shape == (5,)
    assert all(metrics[m].shape == (6,) for m in ("mpjpe", "p_mpjpe", "n_mpjpe", "pck150", "auc"))
    np.testing.assert_allclose(metrics["mpjpe"], joint.mean(1))
