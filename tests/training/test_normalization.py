"""SRNet's four normalisations: round trips, the weak_proj quirk, flips, torch inverses."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d.geometry.projection import project_camera
from pose3d.h36m.cameras import get_camera
from pose3d.metrics.errors import root_relative
from pose3d.training import normalization as nz

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m" / "test_h36m_body3d.npz"
CAMERA = get_camera("S9", 1)


@pytest.fixture(scope="module")
def poses_m() -> np.ndarray:
    """Real camera-frame poses (metres), re-posed: turned about the vertical and moved 4-6 m out."""
    real = np.load(FIXTURE)["S"][..., :3]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(3):
        for pose in real:
            a = rng.uniform(-np.pi, np.pi)
            rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
            rel = (pose - pose[0]) @ rot.T
            root = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-0.3, 0.3), rng.uniform(4.0, 6.0)])
            out.append(rel + root)
    return np.stack(out)


@pytest.fixture(scope="module")
def pixels(poses_m) -> np.ndarray:
    return project_camera(poses_m, CAMERA, distort=True)


def _mirror_3d(poses_m: np.ndarray) -> np.ndarray:
    return nz.flip_poses(poses_m)


def _mirror_2d(uv: np.ndarray, about: float) -> np.ndarray:
    out = nz.flip_poses(uv)
    out[..., 0] += 2 * about  # flip_poses negated u: u -> 2*about - u
    return out


@pytest.mark.parametrize("mode", ["base", "proj", "lcn"])
def test_round_trip_is_exact(mode, poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    assert s.inputs_2d.shape == (12, 17, 2) and s.target_3d.shape == (12, 17, 3) and s.params.shape == (12, 5)
    back = nz.denormalize(s.target_3d, s.params, CAMERA, mode)
    np.testing.assert_allclose(back, root_relative(poses_m), atol=1e-6)


def test_weak_proj_round_trip_reproduces_srnet_distortion(poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, "weak_proj")
    back = nz.denormalize(s.target_3d, s.params, CAMERA, "weak_proj")
    z, z_root = poses_m[..., 2:3], poses_m[:, :1, 2:3]
    # x, y are projected with the root depth but back-projected with each joint's own depth
    distorted = poses_m.copy()
    distorted[..., :2] = poses_m[..., :2] * z / z_root
    np.testing.assert_allclose(back, root_relative(distorted), atol=1e-9)
    np.testing.assert_allclose(back[..., 2], root_relative(poses_m)[..., 2], atol=1e-9)  # depth is exact
    err_mm = np.linalg.norm(back - root_relative(poses_m), axis=-1).mean(-1) * 1000
    assert err_mm.max() > 1.0 and err_mm.max() < 100.0  # a real, mm-scale distortion of the ground truth


def test_proj_values(poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, "proj")
    fx = CAMERA.focal_px[0]
    z_root_mm = poses_m[:, 0, 2] * 1000
    np.testing.assert_allclose(s.params[:, 0], fx / z_root_mm)
    np.testing.assert_allclose(s.params[:, 1], z_root_mm / (1000 * fx))
    np.testing.assert_allclose(s.params[:, 2:4], project_camera(poses_m[:, 0], CAMERA, distort=False))
    np.testing.assert_allclose(s.params[:, 4], z_root_mm)
    np.testing.assert_allclose(s.target_3d[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(s.inputs_2d[:, 0], 0.0, atol=1e-12)
    np.testing.assert_allclose(s.target_3d[..., 2], root_relative(poses_m)[..., 2], atol=1e-12)  # metres
    # x, y: each joint's projected offset from the root, back in metres at the root's depth;
    # one ratio (from fx) scales both axes, so y carries a factor fy/fx
    z, z_root = poses_m[..., 2:3], poses_m[:, :1, 2:3]
    expected = (poses_m[..., :2] / z - poses_m[:, :1, :2] / z_root) * z_root * [1.0, CAMERA.focal_px[1] / fx]
    np.testing.assert_allclose(s.target_3d[..., :2], expected, atol=1e-12)


def test_lcn_values(poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, "lcn")
    fx, _, cx, cy = nz.intrinsics(CAMERA)
    z_root_mm = poses_m[:, 0, 2] * 1000
    np.testing.assert_allclose(s.params[:, 0], fx / z_root_mm + 1)
    np.testing.assert_allclose(s.inputs_2d[..., 0], pixels[..., 0] / cx - 1)
    np.testing.assert_allclose(s.inputs_2d[..., 1], (pixels[..., 1] - cy) / cx)
    lin = project_camera(poses_m, CAMERA, distort=False)
    np.testing.assert_allclose(s.target_3d[..., 0], lin[..., 0] / cx - 1)  # root not subtracted
    dz_mm = root_relative(poses_m)[..., 2] * 1000
    np.testing.assert_allclose(s.target_3d[..., 2], dz_mm * (fx / z_root_mm[:, None] + 1) / 1000)


def test_base_values(poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, "base")
    w, h = CAMERA.width_px, CAMERA.height_px
    np.testing.assert_allclose(s.inputs_2d, pixels / w * 2 - [1, h / w])
    np.testing.assert_array_equal(s.target_3d[:, 0], 0.0)
    pred = s.target_3d + 0.01
    assert np.array_equal(nz.denormalize(pred, s.params, CAMERA, "base"), pred)  # predicted root is kept


@pytest.mark.parametrize("mode", nz.MODES)
def test_prediction_error_survives_inverse(mode, poses_m, pixels):
    """An error added to the normalised target comes back as a comparable error in metres."""
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    rng = np.random.default_rng(1)
    pred = s.target_3d + rng.normal(scale=0.01, size=s.target_3d.shape)
    a = nz.denormalize(pred, s.params, CAMERA, mode)
    b = nz.denormalize(s.target_3d, s.params, CAMERA, mode)
    err_mm = np.linalg.norm(a - b, axis=-1).mean() * 1000
    assert 1.0 < err_mm < 100.0


@pytest.mark.parametrize("mode", nz.MODES)
def test_flip_twice_is_identity(mode, poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    twice = nz.flip(nz.flip(s, CAMERA), CAMERA)
    for name in ("inputs_2d", "target_3d", "params"):
        np.testing.assert_allclose(getattr(twice, name), getattr(s, name), atol=1e-12)
    assert not np.allclose(nz.flip(s, CAMERA).target_3d, s.target_3d)


@pytest.mark.parametrize("mode", nz.MODES)
def test_flipped_sample_inverts_to_mirrored_pose(mode, poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    f = nz.flip(s, CAMERA)
    back = nz.denormalize(f.target_3d, f.params, CAMERA, mode)
    np.testing.assert_allclose(back, _mirror_3d(nz.denormalize(s.target_3d, s.params, CAMERA, mode)), atol=1e-9)
    if mode != "weak_proj":
        np.testing.assert_allclose(back, _mirror_3d(root_relative(poses_m)), atol=1e-6)
    # un-flipping the inverse of a flipped prediction is the test-time-augmentation path
    rng = np.random.default_rng(2)
    pred = f.target_3d + rng.normal(scale=0.01, size=f.target_3d.shape)
    unflipped = _mirror_3d(nz.denormalize(pred, f.params, CAMERA, mode))
    direct = nz.denormalize(nz.flip_poses(pred), s.params, CAMERA, mode)
    np.testing.assert_allclose(unflipped, direct, atol=1e-9)


@pytest.mark.parametrize("mode", nz.MODES)
def test_flip_equals_normalising_the_mirrored_scene(mode, poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    about = CAMERA.width_px / 2 if mode == "base" else CAMERA.centre_px[0]
    mirrored = nz.normalize(_mirror_2d(pixels, about), _mirror_3d(poses_m), CAMERA, mode)
    f = nz.flip(s, CAMERA)
    for name in ("inputs_2d", "target_3d", "params"):
        np.testing.assert_allclose(getattr(f, name), getattr(mirrored, name), atol=1e-9)


@pytest.mark.parametrize("mode", ["proj", "weak_proj", "lcn"])
def test_torch_inverse_matches_numpy(mode, poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, mode)
    ref = nz.denormalize(s.target_3d, s.params, CAMERA, mode)
    k = np.tile(nz.intrinsics(CAMERA), (len(poses_m), 1))  # one camera row per sample
    t64 = nz.denormalize(torch.from_numpy(s.target_3d), torch.from_numpy(s.params), torch.from_numpy(k), mode)
    assert isinstance(t64, torch.Tensor) and t64.dtype == torch.float64
    np.testing.assert_allclose(t64.numpy(), ref, atol=1e-12)
    t32 = nz.denormalize(torch.from_numpy(s.target_3d).float(), torch.from_numpy(s.params).float(), CAMERA, mode)
    assert t32.dtype == torch.float32
    np.testing.assert_allclose(t32.numpy(), ref, atol=1e-4)  # 0.1 mm in float32
    # (B, T, J, 3) with params (B, T, 5) and intrinsics (B, 1, 4)
    bt = nz.denormalize(torch.from_numpy(s.target_3d).reshape(3, 4, 17, 3), torch.from_numpy(s.params).reshape(3, 4, 5),
                        torch.from_numpy(k[:3, None]), mode)
    np.testing.assert_allclose(bt.reshape(-1, 17, 3).numpy(), ref, atol=1e-12)
    fp = nz.flip_params(torch.from_numpy(s.params), CAMERA)
    np.testing.assert_allclose(fp.numpy(), nz.flip_params(s.params, CAMERA))
    fl = nz.flip_poses(torch.from_numpy(s.target_3d))
    np.testing.assert_allclose(fl.numpy(), nz.flip_poses(s.target_3d))


def test_lcn_residual_on_2d(poses_m, pixels):
    s = nz.normalize(pixels, poses_m, CAMERA, "lcn")
    rng = np.random.default_rng(3)
    out = rng.normal(size=s.target_3d.shape)
    res = nz.add_2d_residual(out, s.inputs_2d)
    np.testing.assert_allclose(res[..., :2], out[..., :2] + s.inputs_2d)
    np.testing.assert_array_equal(res[..., 2], out[..., 2])
    res_t = nz.add_2d_residual(torch.from_numpy(out), torch.from_numpy(s.inputs_2d))
    np.testing.assert_allclose(res_t.numpy(), res)
    # a network that predicts the 2D-to-3D offset exactly recovers the target
    np.testing.assert_allclose(nz.add_2d_residual(
        np.concatenate([s.target_3d[..., :2] - s.inputs_2d, s.target_3d[..., 2:]], -1), s.inputs_2d), s.target_3d)


def test_bad_inputs(poses_m, pixels):
    with pytest.raises(ValueError, match="unknown normalisation"):
        nz.normalize(pixels, poses_m, CAMERA, "bbox")
    with pytest.raises(ValueError, match="unknown normalisation"):
        nz.denormalize(poses_m, np.zeros((12, 5)), CAMERA, "bbox")
    with pytest.raises(ValueError, match="same N, J"):
        nz.normalize(pixels[:, :16], poses_m, CAMERA, "proj")
    behind = poses_m.copy()
    behind[..., 2] *= -1
    with pytest.raises(ValueError, match="root depth"):
        nz.normalize(pixels, behind, CAMERA, "proj")
