"""Protocols, lifting views and device-side batches on the tiny stand-in."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.geometry.projection import image_coordinates, project_camera
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.skeleton import H36M17
from pose3d.training.batching import WindowBatcher, edge_pad
from pose3d.training.data import PoseData
from pose3d.training.protocols import make_split

TRAIN, TEST = ["S1", "S5", "S6", "S7", "S8"], ["S9", "S11"]


@pytest.fixture(scope="module")
def data(tiny_poses):
    return PoseData(tiny_poses)


def test_cross_subject_split(data):
    split = make_split("cross_subject", data.available, TRAIN, TEST)
    assert {s for s, _, _ in split.train} == set(TRAIN)
    assert {s for s, _, _ in split.tests["test"]} == set(TEST)
    assert len(split.train) == 5 * 30 * 4
    assert len(split.tests["test"]) == (30 + 29) * 4  # S11 'Directions' is excluded by default


def test_cross_action_split_matches_exact_groups(data):
    split = make_split("cross_action", data.available, TRAIN, TEST, train_action="Sitting")
    keys = {k for _, k, _ in split.train}
    assert keys == {"Sitting 1", "Sitting 2", "Sitting"}  # never SittingDown
    assert {s for s, _, _ in split.train} == set(TRAIN + TEST)
    assert not {k for _, k, _ in split.tests["unseen"]} & keys
    assert len(split.tests["all"]) == len(split.train) + len(split.tests["unseen"])


def test_cross_camera_split_and_bad_cameras(data):
    split = make_split("cross_camera", data.available, TRAIN, TEST, train_cameras=[0], test_cameras=[1, 2, 3])
    assert {c for _, _, c in split.train} == {0} and {c for _, _, c in split.tests["test"]} == {1, 2, 3}
    with pytest.raises(ValueError, match="integers 0..3"):
        make_split("cross_camera", data.available, TRAIN, TEST, train_cameras=["0"], test_cameras=[1])
    with pytest.raises(ValueError, match="unknown protocol"):
        make_split("cross_subjects", data.available, TRAIN, TEST)


def test_view_is_root_relative_camera_frame_consistent_with_2d(data):
    v = data.view("S9", "Phoning 1", 2)
    assert np.abs(v.pose3d[:, 0]).max() == 0
    cam = get_camera("S9", 2)
    cam_mm = (v.pose3d + v.root[:, None]) * 1000
    uv = image_coordinates(v.pose2d, cam.width_px, cam.height_px)
    assert np.abs(project_camera(cam_mm.astype(np.float64), cam) - uv).max() < 0.05
    assert 3.0 < np.median(v.root[:, 2]) < 8.0  # metres in front of the camera


def test_batches_are_windows_of_the_right_frames(data):
    views = data.views([("S1", "Walking 1", 0), ("S5", "Eating", 3)])
    b = WindowBatcher(views, receptive_field=27)
    batches = list(b.epoch(batch_size=64, seed=1, epoch=0, flip=False))
    x = torch.cat([w for w, _, _ in batches])
    y = torch.cat([t for _, t, _ in batches])
    assert x.shape == (len(b), 27, 17, 2) and y.shape == (len(b), 1, 17, 3)
    # every example's centre frame is the 2D of its target's frame, in the padded sequence
    padded = [edge_pad(v.pose2d, 13) for v in views]
    allx = np.concatenate([p[13:-13] for p in padded])
    ally = np.concatenate([v.pose3d for v in views])
    for i in range(0, len(b), 37):
        j = int(np.where((ally == y[i, 0].numpy()).all(axis=(1, 2)))[0][0])
        np.testing.assert_array_equal(x[i, 13].numpy(), allx[j])


def test_flip_doubles_the_epoch_and_mirrors(data):
    views = data.views([("S6", "Posing", 1)])
    b = WindowBatcher(views, receptive_field=1)
    flipped = torch.cat([t for _, t, _ in b.epoch(batch_size=100, seed=0, epoch=0, flip=True)])
    assert flipped.shape[0] == 2 * len(b)
    plain = torch.from_numpy(views[0].pose3d)
    mirrored = plain[:, H36M17.flip_permutation()].clone()
    mirrored[..., 0] *= -1
    key = lambda t: torch.sort(t.reshape(t.shape[0], -1)[:, 5]).values  # noqa: E731
    np.testing.assert_allclose(key(flipped[:, 0]), key(torch.cat([plain, mirrored])))


def test_epoch_order_depends_only_on_seed_and_epoch(data):
    b = WindowBatcher(data.views([("S8", "Greeting", 0)]), receptive_field=1)
    first = [t for _, t, _ in b.epoch(32, seed=3, epoch=2)]
    again = [t for _, t, _ in b.epoch(32, seed=3, epoch=2)]
    other = [t for _, t, _ in b.epoch(32, seed=3, epoch=3)]
    assert all(torch.equal(a, c) for a, c in zip(first, again))
    assert not all(torch.equal(a, c) for a, c in zip(first, other))


def test_frame_stride_keeps_every_kth_target_with_full_rate_windows(data):
    views = data.views([("S1", k, 0) for k in list(data.available["S1"])[:3]])
    full, strided = WindowBatcher(views, 27), WindowBatcher(views, 27, frame_stride=4)
    assert len(strided) == sum(-(-len(v.pose3d) // 4) for v in views)
    assert torch.equal(strided.y, torch.from_numpy(np.concatenate([v.pose3d[::4] for v in views])))
    first = torch.from_numpy(edge_pad(views[0].pose2d, 13))
    assert torch.equal(strided.x[strided.start[1] + strided.offsets], first[4:31])  # frame 4's window, every frame
    assert torch.equal(full.x, strided.x)
    with pytest.raises(ValueError, match="frame_stride"):
        WindowBatcher(views, 1, frame_stride=0)


@pytest.mark.parametrize("norm", ["proj", "weak_proj", "lcn"])
def test_views_in_other_normalisations_come_back_to_metres(data, norm):
    base, other = data.view("S9", "Phoning 1", 2), data.view("S9", "Phoning 1", 2, norm)
    assert other.norm == norm and other.params.shape == (len(base.pose3d), 5)
    back = other.metres(other.pose3d)
    if norm == "weak_proj":  # SRNet's round trip distorts x, y (both poses alike); depth survives
        np.testing.assert_allclose(back[..., 2], base.pose3d[..., 2], atol=1e-5)
    else:
        np.testing.assert_allclose(back, base.pose3d, atol=1e-5)
    assert not np.allclose(other.pose2d, base.pose2d)
