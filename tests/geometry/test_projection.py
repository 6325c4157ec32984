"""Projection with the Human3.6M distortion model, checked against official 2D joints.

The mmpose fixture holds, for four real frames, the official ``D2_Positions`` pixels
(``part``), the official ``D3_Positions_mono`` camera-frame joints (``S``, metres) and
the world joints computed from them (``keypoints_3d`` in ``h36m_coco.json``, metres).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose3d.geometry import projection as proj
from pose3d.h36m.cameras import get_camera

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"
# sample -> (subject, camera), from the fixture README and the image names
SAMPLES = [("S1", "54138969"), ("S5", "54138969"), ("S7", "55011271"), ("S8", "55011271")]


@pytest.fixture(scope="module")
def body3d():
    data = np.load(FIXTURES / "test_h36m_body3d.npz")
    # the image names confirm the sample -> subject/camera mapping
    for name, (subject, camera) in zip(data["imgname"], SAMPLES):
        assert str(name).startswith(f"{subject}/{subject}_") and f".{camera}_" in str(name)
    return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def world_mm():
    coco = json.loads((FIXTURES / "h36m_coco.json").read_text())
    anns = sorted(coco["annotations"], key=lambda a: a["image_id"])
    return np.stack([np.asarray(a["keypoints_3d"], dtype=np.float64).reshape(17, 4)[:, :3] * 1000.0 for a in anns])


def _pixel_error(a, b):
    return np.linalg.norm(a - b, axis=-1)


@pytest.mark.parametrize("i", range(4))
def test_camera_frame_joints_project_onto_official_2d(i, body3d):
    cam = get_camera(*SAMPLES[i])
    uv = proj.project_camera(body3d["S"][i, :, :3] * 1000.0, cam)
    assert uv.shape == (17, 2)
    assert _pixel_error(uv, body3d["part"][i, :, :2]).max() < 1e-3
    # the units do not matter for a camera-frame projection (x/z, y/z)
    np.testing.assert_allclose(proj.project_camera(body3d["S"][i, :, :3], cam), uv, atol=1e-9)


def test_projection_is_batched(body3d):
    cam = get_camera(*SAMPLES[0])
    pts = body3d["S"][:1, :, :3] * 1000.0
    batch = np.broadcast_to(pts, (3, 2, 17, 3))
    out = proj.project_camera(batch, cam)
    assert out.shape == (3, 2, 17, 2)
    np.testing.assert_allclose(out[2, 1], proj.project_camera(pts[0], cam))


@pytest.mark.parametrize("i", range(4))
def test_distortion_matters(i, body3d):
    """Ignoring the distortion costs 1-3.5 px on these frames: the model is not a no-op."""
    cam = get_camera(*SAMPLES[i])
    uv = proj.project_camera(body3d["S"][i, :, :3] * 1000.0, cam, distort=False)
    err = _pixel_error(uv, body3d["part"][i, :, :2])
    assert 1.0 < err.max() < 4.0


@pytest.mark.parametrize("i", range(4))
def test_wrong_tangential_order_is_detectably_worse(i, body3d):
    """Swapping p1/p2 (the ordering trap) moves the points by far more than our error."""
    import dataclasses

    cam = get_camera(*SAMPLES[i])
    swapped = dataclasses.replace(cam, tangential_metadata_pApB=cam.tangential_metadata_pApB[::-1].copy())
    pts = body3d["S"][i, :, :3] * 1000.0
    err = _pixel_error(proj.project_camera(pts, swapped), body3d["part"][i, :, :2])
    assert err.max() > 0.02  # 20x the tolerance of the correct order


@pytest.mark.parametrize("i", range(4))
def test_world_joints_project_onto_official_2d(i, world_mm, body3d):
    cam = get_camera(*SAMPLES[i])
    uv = proj.project_world(world_mm[i], cam)
    # measured: at most about 1e-4 px (the json's world joints are rounded copies)
    assert _pixel_error(uv, body3d["part"][i, :, :2]).max() < 2.5e-4


@pytest.mark.parametrize("i", range(4))
def test_world_to_camera_reproduces_official_mono_joints(i, world_mm, body3d):
    cam = get_camera(*SAMPLES[i])
    x_cam = proj.world_to_camera(world_mm[i], cam)
    # measured: at most about 5e-4 mm
    assert np.abs(x_cam - body3d["S"][i, :, :3] * 1000.0).max() < 2e-3
    # camera frame: z forward, the subject stands a few metres in front of the camera
    assert (x_cam[:, 2] > 2000).all() and (x_cam[:, 2] < 9000).all()


@pytest.mark.parametrize("i", range(4))
def test_world_camera_round_trip(i, world_mm, body3d):
    cam = get_camera(*SAMPLES[i])
    np.testing.assert_allclose(proj.camera_to_world(proj.world_to_camera(world_mm[i], cam), cam), world_mm[i],
                               rtol=0, atol=1e-9)
    x_cam = body3d["S"][i, :, :3] * 1000.0
    np.testing.assert_allclose(proj.world_to_camera(proj.camera_to_world(x_cam, cam), cam), x_cam,
                               rtol=0, atol=1e-9)


def test_world_origin_and_camera_centre():
    cam = get_camera("S9", "58860488")
    # the camera centre maps to the camera-frame origin
    np.testing.assert_allclose(proj.world_to_camera(cam.centre_mm, cam), 0.0, atol=1e-9)
    # a point one metre along the optical axis projects onto the principal point
    on_axis = cam.centre_mm + cam.r_cam_to_world @ np.array([0.0, 0.0, 1000.0])
    np.testing.assert_allclose(proj.world_to_camera(on_axis, cam), [0, 0, 1000.0], atol=1e-9)
    np.testing.assert_allclose(proj.project_world(on_axis, cam), cam.centre_px, atol=1e-9)


def test_distortion_formula_against_reference_expansion():
    """The H36M model in metadata order (h36m_data.md §3.6), not OpenCV's Brown model."""
    cam = get_camera("S11", "55011271")
    k1, k2, k3 = cam.radial_k123
    pA, pB = cam.tangential_metadata_pApB  # metadata order, BL's project_point_radial
    rng = np.random.default_rng(1)
    xy = rng.uniform(-0.45, 0.45, size=(50, 2))
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = pA * y + pB * x
    expected = np.stack([x * (radial + tan) + pB * r2, y * (radial + tan) + pA * r2], -1)
    np.testing.assert_allclose(proj.distort_normalised(xy, cam), expected, rtol=0, atol=1e-15)


def test_clamp_only_affects_points_off_the_image():
    cam = get_camera("S1", 0)
    inside = np.array([[0.3, -0.2], [-0.4, 0.4]])
    np.testing.assert_array_equal(proj.distort_normalised(inside, cam, clamp=True),
                                  proj.distort_normalised(inside, cam))
    far = np.array([[3.0, -5.0]])
    np.testing.assert_allclose(proj.distort_normalised(far, cam, clamp=True),
                               proj.distort_normalised(np.array([[1.0, -1.0]]), cam))


# ---------------------------------------------------------------- undistortion
@pytest.mark.parametrize("i", range(4))
def test_undistort_inverts_the_distortion_on_real_points(i, body3d):
    cam = get_camera(*SAMPLES[i])
    pts = body3d["S"][i, :, :3] * 1000.0
    distorted = proj.project_camera(pts, cam)
    ideal = proj.project_camera(pts, cam, distort=False)
    np.testing.assert_allclose(proj.undistort_pixels(distorted, cam), ideal, rtol=0, atol=1e-6)


@pytest.mark.parametrize("subject,camera", [("S1", "54138969"), ("S7", "58860488"), ("S11", "60457274")])
def test_undistort_round_trip_over_the_whole_image(subject, camera):
    cam = get_camera(subject, camera)
    u, v = np.meshgrid(np.linspace(0, cam.width_px, 21), np.linspace(0, cam.height_px, 21))
    uv = np.stack([u, v], -1)
    ideal = proj.undistort_pixels(uv, cam)
    # re-distort: normalised ideal coordinates -> distortion -> pixels
    xy = (ideal - cam.centre_px) / cam.focal_px
    back = proj.distort_normalised(xy, cam) * cam.focal_px + cam.centre_px
    assert np.abs(back - uv).max() < 1e-6
    # and the correction is real: several pixels towards the corners
    assert np.abs(ideal - uv).max() > 5.0


# ---------------------------------------------------------------- screen normalisation
@pytest.mark.parametrize("w,h", [(1000, 1002), (1000, 1000)])
def test_normalize_screen_maps_image_to_vp3d_range(w, h):
    corners = np.array([[0.0, 0.0], [w, h], [w / 2, h / 2], [w, 0.0]])
    out = proj.normalize_screen(corners, w, h)
    np.testing.assert_allclose(out, [[-1, -h / w], [1, h / w], [0, 0], [1, -h / w]], atol=1e-12)


def test_normalize_screen_integer_pixels():
    # integer pixel coordinates (box corners, image sizes) must not truncate the h/w offset
    out = proj.normalize_screen(np.array([[0, 0], [1000, 1002]]), 1000, 1002)
    np.testing.assert_allclose(out, [[-1, -1.002], [1, 1.002]], atol=1e-12)
    back = proj.image_coordinates(np.array([[0, 0], [-1, 1]]), 1000, 1002)
    np.testing.assert_allclose(back, [[500, 501], [0, 1001]], atol=1e-9)


def test_normalize_screen_keeps_float32():
    uv = np.array([[10.5, 900.25]], dtype=np.float32)
    assert proj.normalize_screen(uv, 1000, 1002).dtype == np.float32
    assert proj.image_coordinates(proj.normalize_screen(uv, 1000, 1002), 1000, 1002).dtype == np.float32


def test_normalize_screen_round_trip_on_real_points(body3d):
    for i, (subject, camera) in enumerate(SAMPLES):
        cam = get_camera(subject, camera)
        uv = body3d["part"][i, :, :2]
        norm = proj.normalize_screen(uv, cam.width_px, cam.height_px)
        assert np.abs(norm[:, 0]).max() <= 1.0
        assert np.abs(norm[:, 1]).max() <= cam.height_px / cam.width_px
        np.testing.assert_allclose(proj.image_coordinates(norm, cam.width_px, cam.height_px), uv, atol=1e-9)


def test_normalised_projection_equals_pixel_projection_then_normalisation(body3d):
    """VP3D projects with f/w*2 and normalised c; that must equal normalising the pixels."""
    cam = get_camera(*SAMPLES[2])
    w, h = cam.width_px, cam.height_px
    pts = body3d["S"][2, :, :3]
    xy = proj.distort_normalised(pts[:, :2] / pts[:, 2:], cam)
    f_norm = cam.focal_px / w * 2
    c_norm = proj.normalize_screen(cam.centre_px, w, h)
    np.testing.assert_allclose(xy * f_norm + c_norm,
                               proj.normalize_screen(proj.project_camera(pts, cam), w, h), atol=1e-12)
