"""Device augmentation moves joints exactly as it moves pixels; targets and Integral's loss by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.h36m.skeleton import H36M17
from pose3d.images.augment import Jitter, draw, move_joints, warp
from pose3d.images.targets import joint_location_loss, keypoint_targets, volume_targets
from pose3d.models.integral import from_voxels


def _dots(side: int, points: np.ndarray) -> torch.Tensor:
    """(1, side, side, 3) uint8 black images with one white 3x3 dot per point (integer pixel centres)."""
    img = np.zeros((1, side, side, 3), np.uint8)
    for x, y in points.astype(int):
        img[0, y - 1:y + 2, x - 1:x + 2] = 255
    return torch.from_numpy(img)


def _peak(channel: torch.Tensor) -> np.ndarray:
    """Intensity-weighted centre of the brightest blob of a (H, W) image."""
    c = channel.numpy()
    mask = c > 0.5 * c.max()
    ys, xs = np.nonzero(mask)
    w = c[mask]
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_warped_dot_lands_where_its_joint_is_moved(seed):
    side, size = 128, 64
    point = np.array([[70.0, 50.0]])
    images = _dots(side, point)
    params = draw(1, Jitter(scale=0.25, rotation_deg=30, rotation_prob=1.0, flip=True, colour=0.0),
                  torch.Generator().manual_seed(seed))
    x, a = warp(images, size, params)
    uv = torch.tensor(point, dtype=torch.float64)[None].expand(1, 17, 2).clone()  # the same point as every joint
    moved = move_joints(uv, a, side, size, params["flip"])[0, 0].numpy()
    brightness = x[0].mean(0)  # normalised, but monotonic in the pixel value
    brightness = brightness - brightness.min()
    assert np.abs(_peak(brightness) - moved).max() < 0.6, (params, moved)


def test_plain_resize_keeps_pixel_centres():
    """Without jitter, crop pixel u maps to (u + 0.5) size / side - 0.5 and a dot stays on it."""
    side, size = 128, 64
    point = np.array([[31.0, 90.0]])
    x, a = warp(_dots(side, point), size)
    moved = move_joints(torch.tensor(point)[None].double(), a, side, size)[0, 0].numpy()
    np.testing.assert_allclose(moved, (point[0] + 0.5) * size / side - 0.5, atol=1e-9)
    brightness = x[0].mean(0) - x[0].mean(0).min()
    assert np.abs(_peak(brightness) - moved).max() < 0.3


def test_flip_exchanges_left_and_right_joints():
    side = size = 64
    uv = torch.zeros(1, 17, 2, dtype=torch.float64)
    uv[0, :, 0] = torch.arange(17, dtype=torch.float64) + 10
    uv[0, :, 1] = 20
    params = {"scale": torch.ones(1, dtype=torch.float64), "rotation": torch.zeros(1, dtype=torch.float64),
              "flip": torch.tensor([True]), "colour": torch.ones(1, 3)}
    _, a = warp(torch.zeros(1, side, side, 3, dtype=torch.uint8), size, params)
    moved = move_joints(uv, a, side, size, params["flip"])[0].numpy()
    for left, right in zip(H36M17.joints_left, H36M17.joints_right):
        assert moved[left, 0] == pytest.approx(size - 1 - uv[0, right, 0].item())
        assert moved[right, 0] == pytest.approx(size - 1 - uv[0, left, 0].item())
    assert moved[0, 0] == pytest.approx(size - 1 - uv[0, 0, 0].item())  # the pelvis stays itself


def test_keypoint_targets_weigh_out_joints_outside_the_input():
    uv = torch.tensor([[[10.0, 20.0], [-3.0, 5.0], [63.4, 63.4], [64.0, 10.0]]])
    t = keypoint_targets(uv, 64, 16)
    np.testing.assert_allclose(t[0, :, :2].numpy(), ((uv[0] + 0.5) / 4 - 0.5).numpy())
    assert t[0, :, 2].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_volume_targets_round_trip_and_depth_range():
    uv = torch.tensor([[[10.0, 20.0], [30.0, 40.0], [5.0, 5.0]]], dtype=torch.float64)
    z = torch.tensor([[0.0, 400.0, 1500.0]], dtype=torch.float64)
    t = volume_targets(uv, z, 64, 16, 16, 2000.0)
    back_uv, back_z = from_voxels(t[..., :3], 64, 16, 16, 2000.0)
    np.testing.assert_allclose(back_uv.numpy(), uv.numpy(), atol=1e-9)
    np.testing.assert_allclose(back_z.numpy(), z.numpy(), atol=1e-9)
    assert t[0, :, 3:5].min() == 1 and t[0, :, 5].tolist() == [1.0, 1.0, 0.0]  # 1500 mm is beyond +-1000
    no_depth = volume_targets(uv, z, 64, 16, 16, 2000.0, has_depth=torch.tensor([False]))
    assert no_depth[0, :, 5].abs().sum() == 0 and no_depth[0, :, 3:5].min() == 1


def test_joint_location_loss_by_hand():
    pred = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    target = torch.tensor([[[2.0, 2.0, 5.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]])
    # joint 0: |1| + 0 + |2| x 0 (no depth); joint 1: 1 + 1 + 1; mean over 2 joints x 3 coordinates
    assert joint_location_loss(pred, target).item() == pytest.approx((1 + 3) / 6)
    with pytest.raises(ValueError, match="coordinates and weights"):
        joint_location_loss(pred, target[..., :4])
