"""Triangulation with the real Human3.6M cameras: exactness, noise, RANSAC, bad input, torch path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d.geometry import triangulation as tri
from pose3d.geometry.projection import project_world
from pose3d.h36m.cameras import subject_cameras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"


@pytest.fixture(scope="module")
def cams():
    return subject_cameras("S9")


@pytest.fixture(scope="module")
def poses_mm():
    """Four real Human3.6M poses (world mm) plus random points spread over the capture area."""
    coco = json.loads((FIXTURES / "h36m_coco.json").read_text())
    real = np.stack([np.asarray(a["keypoints_3d"], dtype=np.float64).reshape(17, 4)[:, :3] * 1000.0
                     for a in coco["annotations"]])
    rng = np.random.default_rng(0)
    rand = rng.uniform([-1500, -1500, 0], [1500, 1500, 1900], size=(40, 17, 3))
    return np.concatenate([real, rand])


def views(points_mm, cameras, distort=True):
    return np.stack([project_world(points_mm, c, distort=distort) for c in cameras], axis=-2)


@pytest.mark.parametrize("nviews", [2, 3, 4])
@pytest.mark.parametrize("distort", [True, False])
def test_exact_projections_are_recovered(cams, poses_mm, nviews, distort):
    subset = [cams[i] for i in (0, 2, 1, 3)[:nviews]]
    uv = views(poses_mm, subset, distort)
    if distort:
        out = tri.triangulate_cameras(uv, subset)
    else:
        out = tri.triangulate(uv, tri.projection_matrices(subset))
    assert out.valid.all() and out.inliers.all()
    assert np.abs(out.points_3d - poses_mm).max() < 0.1


def test_distortion_matters(cams, poses_mm):
    """Skipping the undistortion step is off by millimetres: the check above is not vacuous."""
    uv = views(poses_mm, cams, distort=True)
    naive = tri.triangulate(uv, tri.projection_matrices(cams))
    assert np.linalg.norm(naive.points_3d - poses_mm, axis=-1).max() > 1.0


def test_projection_matrix_is_the_undistorted_projection(cams, poses_mm):
    p = tri.projection_matrices(cams)
    np.testing.assert_allclose(tri.reproject(poses_mm, p), views(poses_mm, cams, distort=False), atol=1e-6)


def test_more_views_lower_error(cams):
    rng = np.random.default_rng(1)
    x = rng.uniform([-1500, -1500, 0], [1500, 1500, 1900], size=(3000, 3))
    uv = views(x, cams) + rng.normal(scale=2.0, size=(3000, 4, 2))
    err = []
    for n in (2, 3, 4):
        out = tri.triangulate_cameras(uv[:, :n], cams[:n])
        err.append(np.linalg.norm(out.points_3d - x, axis=-1).mean())
    assert err[0] > err[1] > err[2] > 0, err


def test_ransac_rejects_a_planted_outlier(cams, poses_mm):
    uv = views(poses_mm, cams)
    uv[:, :, 2] += [180.0, -120.0]  # view 2 is wrong by ~216 px for every joint
    plain = tri.triangulate_cameras(uv, cams)
    robust = tri.triangulate_cameras(uv, cams, ransac_threshold_px=15.0)
    assert np.linalg.norm(plain.points_3d - poses_mm, axis=-1).mean() > 20.0
    assert np.abs(robust.points_3d - poses_mm).max() < 0.1
    assert robust.valid.all()
    assert (robust.inliers == np.array([True, True, False, True])).all()


def test_ransac_without_consensus_is_invalid(cams, poses_mm):
    uv = views(poses_mm[:1], cams)
    uv[0, 5, 1] += 300.0
    uv[0, 5, 2] -= 300.0
    uv[0, 5, 3] = np.nan  # joint 5: no two views agree, so there is no consensus
    out = tri.triangulate_cameras(uv, cams, ransac_threshold_px=15.0)
    assert not out.valid[0, 5] and np.isnan(out.points_3d[0, 5]).all() and not out.inliers[0, 5].any()
    assert out.valid[0, np.arange(17) != 5].all()


def test_fewer_than_two_views_is_nan_with_a_flag(cams, poses_mm):
    uv = views(poses_mm[:3], cams)
    uv[0, 4, 1:] = np.nan  # one finite view
    w = np.ones((3, 17, 4))
    w[1, 7, [0, 1, 3]] = 0.0  # one view with weight > 0
    uv[2, :, :] = np.nan  # a whole frame missing
    out = tri.triangulate_cameras(uv, cams, weights=w)
    expected_invalid = np.zeros((3, 17), dtype=bool)
    expected_invalid[0, 4] = expected_invalid[1, 7] = True
    expected_invalid[2] = True
    assert (out.valid == ~expected_invalid).all()
    assert np.isnan(out.points_3d[expected_invalid]).all()
    assert np.abs(out.points_3d[~expected_invalid] - poses_mm[:3][~expected_invalid]).max() < 0.1


def test_nan_detection_is_an_invalid_view_not_a_nan_pose(cams, poses_mm):
    uv = views(poses_mm, cams)
    uv[:, 3, 1] = np.nan
    out = tri.triangulate_cameras(uv, cams)
    assert out.valid.all()
    assert np.abs(out.points_3d - poses_mm).max() < 0.1
    assert not out.inliers[:, 3, 1].any() and out.inliers[:, 3, [0, 2, 3]].all()


def test_zero_weight_removes_the_view(cams):
    """A weight-0 view has no influence at all: its 2D point may be anything, or NaN."""
    rng = np.random.default_rng(2)
    x = rng.uniform([-1000, -1000, 0], [1000, 1000, 1800], size=(200, 3))
    uv = tri.undistort_views(views(x, cams) + rng.normal(scale=3.0, size=(200, 4, 2)), cams)
    p = tri.projection_matrices(cams)
    w = np.array([1.0, 0.0, 1.0, 1.0])
    dropped, _ = tri.triangulate_dlt(uv, p, weights=w)
    garbage = uv.copy()
    garbage[:, 1] = [5e5, -3e5]
    missing = uv.copy()
    missing[:, 1] = np.nan
    np.testing.assert_array_equal(tri.triangulate_dlt(garbage, p, weights=w)[0], dropped)
    np.testing.assert_array_equal(tri.triangulate_dlt(missing, p)[0], dropped)
    assert not np.allclose(tri.triangulate_dlt(uv, p)[0], dropped, atol=1e-3)  # the view did count before


def test_mismatched_camera_count_names_the_shapes(cams):
    uv = np.zeros((5, 17, 4, 2))
    with pytest.raises(ValueError, match=r"4 views.*\(5, 17, 4, 2\).*3 cameras.*\(3, 3, 4\)"):
        tri.triangulate_dlt(uv, tri.projection_matrices(cams[:3]))
    with pytest.raises(ValueError, match="3 cameras"):
        tri.triangulate_cameras(uv, cams[:3])
    with pytest.raises(ValueError, match="weights"):
        tri.triangulate_dlt(uv, tri.projection_matrices(cams), weights=np.ones(3))
    with pytest.raises(ValueError, match=">= 0"):
        tri.triangulate_dlt(uv, tri.projection_matrices(cams), weights=-np.ones(4))


def test_per_point_projections_match_shared(cams, poses_mm):
    uv = tri.undistort_views(views(poses_mm, cams), cams)
    p = tri.projection_matrices(cams)
    shared, _ = tri.triangulate_dlt(uv, p)
    per_point, valid = tri.triangulate_dlt(uv, np.broadcast_to(p, uv.shape[:-2] + p.shape))
    assert valid.all()
    np.testing.assert_allclose(per_point, shared, atol=1e-8)


def test_fast_eigensolver_matches_lapack():
    """The adjugate inverse iteration agrees with eigh, including nearly degenerate systems."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(500, 8, 4))
    a[:100, :, 3] = a[:100, :, 2] * (1 + 1e-7)  # two nearly equal smallest eigenvalues
    a[100:200] *= np.array([1.0, 1.0, 1.0, 1e-4])  # badly scaled
    m = a.transpose(0, 2, 1) @ a
    v, degenerate = tri._smallest_eigvec([m[:, i, j] for i, j in tri._PAIRS])
    ref = np.linalg.eigh(m)[1][:, :, 0]
    ok = ~degenerate
    assert ok[200:].all()
    dots = np.abs((v.T * ref).sum(axis=1))
    assert np.allclose(dots[ok], 1.0, atol=1e-7)


def test_torch_path_matches_numpy_and_is_differentiable(cams, poses_mm):
    rng = np.random.default_rng(4)
    p = tri.projection_matrices(cams)
    uv = tri.reproject(poses_mm[:2], p) + rng.normal(scale=3.0, size=(2, 17, 4, 2))
    w = rng.uniform(0.2, 1.0, size=(2, 17, 4))
    uv[0, 0, 1:] = np.nan  # one invalid point: must not poison the gradients of the others
    ref, ref_valid = tri.triangulate_dlt(uv, p, w)

    uv_t = torch.tensor(uv, requires_grad=True)
    w_t = torch.tensor(w, requires_grad=True)
    out, valid = tri.triangulate_dlt(uv_t, torch.tensor(p), w_t)
    assert torch.equal(valid, torch.from_numpy(ref_valid)) and not valid[0, 0]
    np.testing.assert_allclose(out.detach().numpy()[ref_valid], ref[ref_valid], atol=1e-7)
    assert torch.isnan(out[0, 0]).all()

    out[valid].sum().backward()
    assert torch.isfinite(uv_t.grad).all() and torch.isfinite(w_t.grad).all()
    assert uv_t.grad.abs().sum() > 0 and w_t.grad.abs().sum() > 0
    # gradient of one joint's coordinates w.r.t. one view's 2D point, against numpy finite differences
    f, j, v, eps = 1, 5, 2, 1e-4
    for c in range(2):
        hi, lo = uv.copy(), uv.copy()
        hi[f, j, v, c] += eps
        lo[f, j, v, c] -= eps
        num = (tri.triangulate_dlt(hi, p, w)[0][f, j].sum() - tri.triangulate_dlt(lo, p, w)[0][f, j].sum()) / (2 * eps)
        assert uv_t.grad[f, j, v, c].item() == pytest.approx(num, rel=1e-5, abs=1e-8)


def test_torch_float32_close_to_float64(cams, poses_mm):
    p = tri.projection_matrices(cams)
    uv = tri.reproject(poses_mm, p)
    out, valid = tri.triangulate_dlt(torch.tensor(uv, dtype=torch.float32), torch.tensor(p, dtype=torch.float32))
    assert out.dtype == torch.float32 and valid.all()
    assert np.abs(out.numpy() - poses_mm).max() < 5.0  # conditioning keeps single precision usable


def test_degenerate_geometry_is_flagged(cams, poses_mm):
    """Two copies of one camera cannot triangulate: a flag, not a point somewhere on the ray."""
    p = tri.projection_matrices([cams[0], cams[0]])
    uv = tri.reproject(poses_mm[:2], p)
    points, valid = tri.triangulate_dlt(uv, p)
    assert not valid.any() and np.isnan(points).all()
