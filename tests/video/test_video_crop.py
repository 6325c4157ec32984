"""Crop + resize, undistortion and the crop camera, on synthetic images and on four real Human3.6M frames."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest

from pose3d.geometry.projection import project_camera
from pose3d.h36m.cameras import get_camera
from pose3d.video.boxes import joint_boxes, square_crop
from pose3d.video.crop import (
    crop_frame, crop_intrinsics, crop_square, to_crop, to_video, undistort_points, undistorted_square, video_camera,
    video_scale,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"


def test_a_crop_at_scale_one_is_the_slice_with_black_outside():
    img = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_square(img, 7, 3, 20, 20), img[3:23, 7:27])
    out = crop_square(img, -5, 40, 20, 20)  # 5 columns left of the frame, 10 rows below it
    np.testing.assert_array_equal(out[:10, 5:], img[40:50, 0:15])
    assert not out[:, :5].any() and not out[10:].any()


def test_down_scaling_averages_the_pixels_under_each_output_pixel():
    img = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    blocks = img[4:36, 2:34].astype(np.float64).reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(crop_square(img, 2, 4, 32, 16), np.rint(blocks).astype(np.uint8))


def test_crop_coordinates_follow_the_image_content():
    """A bright dot at a known sub-pixel place lands where to_crop puts it, down- and up-scaling."""
    for left, top, side, size in ((40, 60, 90, 30), (63, 93, 20, 64)):
        img = np.zeros((200, 200, 3), dtype=np.uint8)
        img[101:104, 71:74] = 255  # centre (72, 102), pixel-centre convention
        out = crop_square(img, left, top, side, size).astype(np.float64)[..., 0]
        ys, xs = np.mgrid[0:size, 0:size]
        centroid = np.array([(out * xs).sum(), (out * ys).sum()]) / out.sum()
        np.testing.assert_allclose(centroid, to_crop([72, 102], left, top, side, size), atol=0.05)


def test_the_crop_camera_projects_like_the_crop_transform():
    cam = get_camera("S9", 1)
    pts_cam = np.array([[100.0, -300.0, 4000.0], [-500.0, 400.0, 5200.0]])
    uv = project_camera(pts_cam, cam)
    f, c = crop_intrinsics(cam.focal_px, cam.centre_px, 123, 45, 600, 256)
    crop_cam = dataclasses.replace(cam, focal_px=f, centre_px=c)
    np.testing.assert_allclose(project_camera(pts_cam, crop_cam), to_crop(uv, 123, 45, 600, 256), atol=1e-9)


def test_undistorted_square_matches_the_distortion_model():
    """Undistorting an image of dots puts each dot where undistort_pixels puts its centre."""
    cam = get_camera("S1", 0)
    img = np.zeros((1002, 1000, 3), dtype=np.uint8)
    dots = np.array([[120.0, 130.0], [850.0, 880.0], [500.0, 500.0]])
    for x, y in dots.astype(int):
        img[y - 1:y + 2, x - 1:x + 2] = 255
    for x, y in dots:
        ideal = undistort_points(np.array([x, y]), cam)
        left, top = int(ideal[0]) - 10, int(ideal[1]) - 10
        patch = undistorted_square(img, cam, left, top, 21)[..., 0]
        ys, xs = np.mgrid[0:21, 0:21]
        centroid = np.array([(patch * xs).sum(), (patch * ys).sum()]) / patch.sum() + [left, top]
        np.testing.assert_allclose(centroid, ideal, atol=0.1)
    assert np.abs(undistort_points(dots[:1], cam) - dots[:1]).max() > 5  # the corners do move


def test_a_smaller_video_is_the_camera_image_resized():
    cam = get_camera("S7", 2)  # 1000 x 1002
    assert np.array_equal(video_scale(cam, 1000, 1002), [1, 1])
    assert np.array_equal(video_scale(cam, 1000, 1000), [1, 1])  # 1000 vs 1002 rows is no rescale
    scale = video_scale(cam, 250, 250)
    vcam = video_camera(cam, scale, 250, 250)
    pts = np.array([[200.0, 100.0, 3000.0], [-700.0, 300.0, 6000.0]])
    np.testing.assert_allclose(project_camera(pts, vcam), to_video(project_camera(pts, cam), scale), atol=1e-9)
    with pytest.raises(ValueError, match="not a resized 1000x1002 image"):
        video_scale(cam, 400, 250)


def _fixture_samples():
    data = np.load(FIXTURES / "test_h36m_body3d.npz")
    for n, name in enumerate(data["imgname"]):
        subject = str(name).split("/")[0]
        camera = str(name).rsplit(".", 2)[1].split("_")[0]
        yield str(name), subject, camera, data["part"][n, :, :2], data["S"][n, :, :3] * 1000.0


@pytest.mark.parametrize("undistort", [False, True], ids=["distorted", "undistorted"])
def test_real_frames_crop_around_their_joints(undistort):
    """Four real frames: every joint lands inside the crop where the crop camera projects the 3D joint."""
    seen = 0
    for name, subject, camera_id, uv, xyz_mm in _fixture_samples():
        with av.open(str(FIXTURES / name)) as c:
            img = next(c.decode(video=0)).to_ndarray(format="rgb24")
        cam = get_camera(subject, camera_id)
        assert img.shape[:2] == (cam.height_px, cam.width_px)
        ideal = undistort_points(uv, cam) if undistort else uv
        left, top, side = square_crop(joint_boxes(ideal[None])[0], 0.25)
        crop = crop_frame(img, left, top, side, 256, cam if undistort else None)
        assert crop.shape == (256, 256, 3) and crop.std() > 10  # picture content, not padding
        expected = to_crop(ideal, left, top, side, 256)
        assert (expected >= 0).all() and (expected <= 255).all()
        # the joints' box fills the crop up to the margin: 1 / 1.25 of the side
        extent = (expected.max(axis=0) - expected.min(axis=0)).max()
        assert abs(extent - 256 / 1.25) < 256 / side + 1e-6
        f, c = crop_intrinsics(cam.focal_px, cam.centre_px, left, top, side, 256)
        crop_cam = dataclasses.replace(cam, focal_px=f, centre_px=c)
        if undistort:
            crop_cam = dataclasses.replace(crop_cam, radial_k123=np.zeros(3), tangential_metadata_pApB=np.zeros(2))
        np.testing.assert_allclose(project_camera(xyz_mm, crop_cam), expected, atol=1e-3)
        seen += 1
    assert seen == 4
