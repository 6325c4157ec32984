"""The volumetric geometry (cube grid, projection, unprojection, aggregation, read-out), the
algebraic model's DLT solver and the MSESmooth loss, checked on real Human3.6M cameras against
independent numpy computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pose3d.geometry.cube import (aggregate_softmax, cube_grid, nearest_voxel, scale_pixels, soft_argmax_world,
                                  to_cube_frame, unproject)
from pose3d.geometry.triangulation import projection_matrix, reproject, triangulate_dlt
from pose3d.h36m.cameras import get_camera
from pose3d.multiview.losses import mse_smooth
from pose3d.multiview.samples import crop_affine

CROP = 256  # crop side (input pixels)
CROP_ORIG = 1200.0  # the crop's side in original image pixels


# --------------------------------------------------------------------------- helpers


def forward_point(camera, depth_mm: float) -> np.ndarray:
    """The world point ``depth_mm`` along the camera's optical axis (negative: behind it)."""
    return camera.centre_mm + depth_mm * (camera.r_cam_to_world @ np.array([0.0, 0.0, 1.0]))


def crop_around(camera, point: np.ndarray, crop_orig: float = CROP_ORIG) -> tuple[float, np.ndarray]:
    """(px_scale, offset) of a square crop of ``crop_orig`` original pixels centred on ``point``'s projection."""
    uv = reproject(point, projection_matrix(camera)[None])[0]
    return crop_orig / CROP, uv + 0.5 - crop_orig / 2  # the crop spans offset - 0.5 ... offset - 0.5 + crop_orig


def to_feature_pixels(uv_orig: np.ndarray, px_scale: float, offset: np.ndarray, size: int) -> np.ndarray:
    """Original-image pixels -> pixels of a ``size`` feature map of the crop (pixel centres at integers)."""
    crop = (uv_orig + 0.5 - offset) / px_scale - 0.5
    return (crop + 0.5) * (size / CROP) - 0.5


def feature_proj(camera, px_scale: float, offset: np.ndarray, size: int) -> torch.Tensor:
    """(3, 4) world mm -> feature-map pixels, composed the way the pipeline composes it."""
    crop_proj = torch.from_numpy(crop_affine(px_scale, offset) @ projection_matrix(camera))
    return scale_pixels(crop_proj, size / CROP)


def coordinate_maps(size: int) -> torch.Tensor:
    """(2, size, size): channel 0 is the column index u, channel 1 the row index v."""
    v, u = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    return torch.stack([u, v])


def rz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------- 1. unprojection hits the voxel's pixel


def test_unproject_reads_each_voxels_own_pixel_and_lt_shrink():
    size, n, side = 16, 8, 2500.0
    cam = get_camera("S9", 1)
    centre = forward_point(cam, 5000.0)
    px_scale, offset = crop_around(cam, centre, 800.0)  # tighter than the cube: some voxels fall outside
    proj = feature_proj(cam, px_scale, offset, size)

    # the composed matrix maps the cube's centre to the middle of the map (checks crop_affine and scale_pixels)
    centre_px = reproject(centre, proj.numpy()[None])[0]
    np.testing.assert_allclose(centre_px, [(size - 1) / 2] * 2, atol=1e-9)

    grid = cube_grid(torch.from_numpy(centre)[None], n, side, torch.tensor([0.4]))
    features = coordinate_maps(size)[None, None]  # (1, 1, 2, h, w)

    pts = grid[0].reshape(-1, 3).numpy()
    uv = to_feature_pixels(reproject(pts, projection_matrix(cam)[None])[:, 0], px_scale, offset, size)
    inside = ((uv >= 0) & (uv <= size - 1)).all(axis=1)
    assert 50 < inside.sum() < n ** 3  # most voxels in the map, some out of it

    got = unproject(features, proj[None, None], grid)[0, 0].reshape(2, -1).T.numpy()
    np.testing.assert_allclose(got[inside], uv[inside], atol=1e-3)

    lt = unproject(features, proj[None, None], grid, lt_normalisation=True)[0, 0].reshape(2, -1).T.numpy()
    np.testing.assert_allclose(lt[inside], uv[inside] * (size - 1) / size, atol=1e-3)
    assert np.abs(lt[inside] - uv[inside]).max() > 0.5  # the seed's shrink is large on a 16 px map

    # the same cube mirrored behind the camera projects into the map too, but must read 0
    behind = cube_grid(torch.from_numpy(forward_point(cam, -5000.0))[None], n, side, torch.tensor([0.4]))
    pts_b = behind[0].reshape(-1, 3).numpy()
    uv_b = to_feature_pixels(reproject(pts_b, projection_matrix(cam)[None])[:, 0], px_scale, offset, size)
    assert ((uv_b > 1) & (uv_b < size - 2)).all(axis=1).sum() > 50
    assert (unproject(features + 1, proj[None, None], behind) == 0).all()

    # voxels that project far outside the map read 0 (zero padding)
    far = ((uv < -1) | (uv > size)).any(axis=1)
    assert far.any()
    assert (got[far] == 0).all()


# --------------------------------------------------------------------------- 2. a bright pixel lights its ray


def test_single_bright_pixel_unprojects_along_its_ray():
    size, n, side = 32, 24, 2500.0
    pu, pv = 24, 20  # far from the map's top-left corner, where the seed's shrink is ~0.7 px
    cam = get_camera("S9", 1)
    px_scale, offset = crop_around(cam, forward_point(cam, 5000.0))
    proj = feature_proj(cam, px_scale, offset, size).numpy()

    m, p4 = proj[:, :3], proj[:, 3]
    cam_centre = -np.linalg.solve(m, p4)
    np.testing.assert_allclose(cam_centre, cam.centre_mm, atol=1e-6)
    direction = np.linalg.solve(m, np.array([pu, pv, 1.0]))  # unit depth per unit of t
    unit = direction / np.linalg.norm(direction)
    centre = cam_centre + 5000.0 * direction
    grid = cube_grid(torch.from_numpy(centre)[None], n, side)

    features = torch.zeros(1, 1, 1, size, size)
    features[..., pv, pu] = 1.0
    vol = unproject(features, torch.from_numpy(proj)[None, None], grid)[0, 0, 0].reshape(-1).numpy()

    pts = grid[0].reshape(-1, 3).numpy()
    rel = pts - cam_centre
    depth = rel @ m[2]  # third row of the feature matrix: camera z in mm (affines keep it)
    perp = np.linalg.norm(rel - (rel @ unit)[:, None] * unit, axis=1)
    f_feat = min(cam.focal_px) / px_scale * size / CROP  # feature pixels per mm at 1 mm depth
    spacing = side / (n - 1)

    lit = vol > 0.5
    assert lit.sum() >= 10
    # value > 0.5 means within half a pixel in u and v: at most sqrt(2)/2 px from the ray at that depth
    reach = depth[lit] * (math.sqrt(0.5) / f_feat)
    assert (perp[lit] <= reach + 1e-6).all()
    assert reach.max() < 1.5 * spacing  # ... which is about one voxel here
    assert perp[lit].max() < 1.5 * spacing

    # the voxels nearest to points of the ray inside the cube are lit
    t = np.linspace(5000.0 - 1000.0, 5000.0 + 1000.0, 41)
    ray = cam_centre + t[:, None] * direction
    idx = nearest_voxel(torch.tensor(ray[None]), grid)[0].numpy()
    assert np.linalg.norm(pts[idx] - ray, axis=1).max() <= spacing * math.sqrt(3) / 2 + 1e-3  # inside the cube
    assert (vol[idx] > 0.05).all()

    # the seed's normalisation lights the ray of pixel (u, v) * w / (w - 1) instead, about one voxel away here
    lt = unproject(features, torch.from_numpy(proj)[None, None], grid, lt_normalisation=True)[0, 0, 0]
    lit_lt = lt.reshape(-1).numpy() > 0.5
    assert lit_lt.sum() >= 10
    shifted = np.linalg.solve(m, np.array([pu * size / (size - 1), pv * size / (size - 1), 1.0]))
    shifted /= np.linalg.norm(shifted)
    perp_shifted = np.linalg.norm(rel - (rel @ shifted)[:, None] * shifted, axis=1)
    assert (perp_shifted[lit_lt] <= depth[lit_lt] * (math.sqrt(0.5) / f_feat) + 1e-6).all()
    assert np.median(perp[lit_lt]) > spacing
    assert not (lit & lit_lt).any()


# --------------------------------------------------------------------------- 3. DLT as the algebraic model calls it


def dlt_setup(rng: np.random.Generator, b: int = 3, j: int = 5, subject: str = "S9"):
    """Points (B, J, 3) world mm, proj (B, V, 3, 4) crop pixels, exact 2D (B, V, J, 2)."""
    cams = [get_camera(subject, c) for c in range(4)]
    middle = np.array([0.0, 0.0, 900.0])
    assert all(4000 < np.linalg.norm(c.centre_mm - middle) < 7000 for c in cams)
    points = middle + rng.uniform(-1.0, 1.0, (b, j, 3)) * (1000.0 / math.sqrt(3))
    proj = np.empty((b, 4, 3, 4))
    for s in range(b):
        for v, cam in enumerate(cams):
            px_scale, offset = crop_around(cam, points[s].mean(0), rng.uniform(700.0, 1100.0))
            proj[s, v] = crop_affine(px_scale, offset + rng.uniform(-50, 50, 2)) @ projection_matrix(cam)
    uv = reproject(points, proj[:, None])  # (B, J, V, 2)
    return points, proj, uv.transpose(0, 2, 1, 3)


def as_algebraic(uv: np.ndarray, proj: np.ndarray, w: np.ndarray, grad: bool = False):
    """Shapes as ``Algebraic.forward`` passes them: (B, J, V, 2), (B, 1, V, 3, 4), (B, J, V) float64."""
    uv_t = torch.tensor(uv.transpose(0, 2, 1, 3), requires_grad=grad)
    w_t = torch.tensor(w, requires_grad=grad)
    return uv_t, torch.tensor(proj)[:, None], w_t


@pytest.mark.parametrize("weights", ["equal", "random", "one_view_dropped"])
def test_dlt_recovers_exact_points(weights):
    rng = np.random.default_rng(3)
    points, proj, uv = dlt_setup(rng)
    b, v, j = uv.shape[:3]
    w = np.ones((b, j, v)) if weights == "equal" else rng.uniform(0.05, 1.0, (b, j, v))
    if weights == "one_view_dropped":
        w[0, :, 2] = 0.0
        w[2, :, 0] = 0.0
        uv = uv.copy()
        uv[0, 2] += 300.0  # the dropped view's points are wrong: they must not count
        uv[2, 0] -= 300.0
    got, valid = triangulate_dlt(*as_algebraic(uv, proj, w))
    assert got.dtype == torch.float64 and got.shape == (b, j, 3)
    assert valid.all()
    np.testing.assert_allclose(got.numpy(), points, atol=0.1)

    if weights == "one_view_dropped":  # a point left with a single view has no solution
        w[1, 0, 1:] = 0.0
        got, valid = triangulate_dlt(*as_algebraic(uv, proj, w))
        assert not valid[1, 0] and torch.isnan(got[1, 0]).all()
        assert valid.sum() == valid.numel() - 1
        np.testing.assert_allclose(got.numpy()[valid.numpy()], points[valid.numpy()], atol=0.1)


def test_dlt_gradients_reach_2d_points_and_weights():
    rng = np.random.default_rng(4)
    points, proj, uv = dlt_setup(rng)
    b, v, j = uv.shape[:3]
    w = rng.uniform(0.05, 1.0, (b, j, v))
    w[1, :, 3] = 0.0  # one absent view
    noisy = uv + rng.normal(0.0, 0.5, uv.shape)

    uv_t, proj_t, w_t = as_algebraic(noisy, proj, w, grad=True)
    got, valid = triangulate_dlt(uv_t, proj_t, w_t)
    assert valid.all()
    err = np.abs(got.detach().numpy() - points).max()
    assert 0.1 < err < 100.0  # half a pixel of noise: close, not exact
    got.sum().backward()
    for g in (uv_t.grad, w_t.grad):
        assert torch.isfinite(g).all()
    assert (uv_t.grad.abs().sum(-1)[w > 0] > 1e-6).all()  # every used view moves the points
    assert (uv_t.grad[1, :, 3] == 0).all()  # the absent view does not
    assert (w_t.grad.abs()[w > 0] > 1e-9).all()

    # with exact 2D the solution does not depend on the weights: their gradient vanishes
    uv_e, proj_e, w_e = as_algebraic(uv, proj, w, grad=True)
    triangulate_dlt(uv_e, proj_e, w_e)[0].sum().backward()
    assert torch.isfinite(w_e.grad).all()
    assert w_e.grad.abs().max() < 1e-4 * w_t.grad.abs().max()


# --------------------------------------------------------------------------- 4. the rotated cube


def test_rotated_cube_world_coordinates():
    rng = np.random.default_rng(5)
    b, n, side = 4, 5, 2500.0
    centre = rng.uniform(-2000, 2000, (b, 3))
    angles = rng.uniform(-math.pi, math.pi, b)
    grid = cube_grid(torch.tensor(centre), n, side, torch.tensor(angles))
    assert grid.shape == (b, n, n, n, 3)

    o = np.linspace(-side / 2, side / 2, n)
    local = np.stack(np.meshgrid(o, o, o, indexing="ij"), -1).reshape(-1, 3)
    flat = grid.reshape(b, -1, 3).numpy()
    for s in range(b):
        np.testing.assert_allclose(flat[s], centre[s] + local @ rz(angles[s]).T, atol=1e-6)
    # a rotation about z keeps the heights
    np.testing.assert_allclose(flat[..., 2], centre[:, None, 2] + local[None, :, 2], atol=1e-9)

    back = to_cube_frame(grid.reshape(b, -1, 3), torch.tensor(centre), torch.tensor(angles)).numpy()
    np.testing.assert_allclose(back, np.broadcast_to(local, back.shape), atol=1e-3)

    d_local = np.linalg.norm(local[:, None] - local[None], axis=-1)
    for s in range(b):
        np.testing.assert_allclose(np.linalg.norm(flat[s][:, None] - flat[s][None], axis=-1), d_local, atol=1e-6)

    # soft-argmax of a one-hot volume returns that voxel's world position
    picks = [(0, 0, 0), (4, 1, 3), (2, 2, 2), (1, 4, 0)]
    vol = torch.zeros(b, len(picks), n, n, n)
    for jj, (i, j, k) in enumerate(picks):
        vol[:, jj, i, j, k] = 200.0
    pos, prob = soft_argmax_world(vol, grid)
    assert prob.shape == (b, len(picks), n ** 3)
    for jj, (i, j, k) in enumerate(picks):
        np.testing.assert_allclose(pos[:, jj].numpy(), grid[:, i, j, k].numpy(), atol=1e-2)

    # nearest voxel == per-axis rounding in the cube's own frame (clamped outside the cube)
    spacing = side / (n - 1)
    ijk = rng.integers(0, n, (b, 30, 3))
    loc = o[ijk] + rng.uniform(-0.4, 0.4, (b, 30, 3)) * spacing
    loc[:, :5] = rng.uniform(-1.0, 1.0, (b, 5, 3)) * side * 0.9  # some outside the cube
    loc[:, :5, 0] = np.sign(loc[:, :5, 0]) * side * 0.8
    world = centre[:, None] + np.einsum("bij,bpj->bpi", np.stack([rz(a) for a in angles]), loc)
    np.testing.assert_allclose(to_cube_frame(torch.tensor(world), torch.tensor(centre), torch.tensor(angles)).numpy(),
                               loc, atol=1e-6)
    want = np.clip(np.rint((loc + side / 2) / spacing), 0, n - 1).astype(int)
    want_flat = (want[..., 0] * n + want[..., 1]) * n + want[..., 2]
    got = nearest_voxel(torch.tensor(world), grid).numpy()
    np.testing.assert_array_equal(got, want_flat)


# --------------------------------------------------------------------------- 5. aggregation over views


def test_aggregate_softmax_ignores_absent_views():
    gen = torch.Generator().manual_seed(6)
    b, v, c, n = 2, 4, 3, 3
    vol = torch.randn(b, v, c, n, n, n, generator=gen) * 3
    views = torch.tensor([[True, True, False, True], [False, True, False, False]])
    vol[~views] = 1e3  # absent views' values are large: any leak shows
    got = aggregate_softmax(vol, views)
    assert got.shape == (b, c, n, n, n)

    for s in range(b):
        kept = vol[s : s + 1, views[s]]
        alone = aggregate_softmax(kept, torch.ones(1, kept.shape[1], dtype=torch.bool))[0]
        torch.testing.assert_close(got[s], alone)
        by_hand = (torch.softmax(kept[0], dim=0) * kept[0]).sum(0)
        torch.testing.assert_close(got[s], by_hand)
    torch.testing.assert_close(got[1], vol[1, 1])  # a single view: its own values

    one = aggregate_softmax(vol[:, :1], torch.ones(b, 1, dtype=torch.bool))
    torch.testing.assert_close(one, vol[:, 0])


# --------------------------------------------------------------------------- 6. MSESmooth


def test_mse_smooth_by_hand():
    target = torch.zeros(1, 4, 3)
    pred = torch.tensor([[[1.0, 2.0, -3.0],  # 1 + 4 + 9, all below 400
                          [30.0, 0.0, -10.0],  # 900 is above 400: 900^0.1 * 400^0.9; 100 stays
                          [20.0, 19.0, 0.0],  # 400 exactly stays 400, 361 (just below) too
                          [1e3, -1e3, 7.0]]])  # invalid: left out
    valid = torch.tensor([[True, True, True, False]])
    expected = (1 + 4 + 9 + 900 ** 0.1 * 400 ** 0.9 + 0 + 100 + 400 + 361) / (3 * 3)
    got = mse_smooth(pred, target, valid)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert 900 ** 0.1 * 400 ** 0.9 == pytest.approx(433.8, abs=0.1)

    # the smooth branch is much gentler than the square
    pred2 = pred.clone()
    pred2[0, 1, 0] = 60.0  # 3600 -> 3600^0.1 * 400^0.9
    assert (mse_smooth(pred2, target, valid) - got).item() * 9 == pytest.approx(
        3600 ** 0.1 * 400 ** 0.9 - 900 ** 0.1 * 400 ** 0.9, rel=1e-5)

    # the invalid joint's values do not matter, and with no valid joint the loss is 0
    pred3 = pred.clone()
    pred3[0, 3] = torch.tensor([-5.0, 1e5, 0.0])
    assert mse_smooth(pred3, target, valid).item() == pytest.approx(expected, rel=1e-6)
    assert mse_smooth(pred, target, torch.zeros_like(valid)).item() == 0.0

    # gradients: 2 e below the threshold, 0.1 * e^-0.9 * 400^0.9 * 2 e above, none for invalid joints
    p = pred.clone().requires_grad_(True)
    mse_smooth(p, target, valid).backward()
    g = p.grad[0]
    assert g[0].tolist() == pytest.approx([2 / 9, 4 / 9, -6 / 9], rel=1e-5)
    assert g[1, 0].item() == pytest.approx(0.1 * 900 ** -0.9 * 400 ** 0.9 * 60 / 9, rel=1e-5)
    assert (g[3] == 0).all()
