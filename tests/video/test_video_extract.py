"""A subject's videos -> shards + index: frames, boxes, crop cameras, problems, and Dask vs process pool."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences_csv import Exclusions
from pose3d.video import FrameSettings, FrameShards, extract_subject, plan_subject
from pose3d.video.boxes import joint_boxes
from pose3d.video.crop import crop_frame, to_crop, to_video, undistort_points, video_camera, video_scale
from pose3d.video.reader import joints_to_crop
from pose3d.video.subject import FramesError

RAW = FrameSettings(test_every_n=4, encoding="raw", crop=256)


def _videos(folder: Path) -> dict[tuple[str, str], dict]:
    with open(folder / "videos.csv", newline="") as f:
        return {(r["key"], r["camera_id"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def raw_run(small_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("raw_run") / "S9"
    out.mkdir()
    report = extract_subject(small_tree.raw, "S9", small_tree.poses, "test", RAW, out, workers=2)
    return out, report


def test_every_kept_frame_is_the_true_frame_cropped(raw_run, small_tree, media):
    out, report = raw_run
    shards = FrameShards(out)
    assert report["crops"] == len(shards) == 4 * len(range(0, 41, 4))
    frames = {cam: media.decode_all(small_tree.raw / "S9" / "Videos" / f"Directions 1.{cam}.mp4") for cam in CAMERA_IDS}
    for i in range(len(shards)):
        image, meta = shards[i]
        assert meta["split"] == "test" and meta["frame"] % 4 == 0 and meta["key"] == "Directions 1"
        source = frames[meta["camera"]][meta["frame"]]
        assert media.read_index_pattern(source) == meta["frame"]
        expected = crop_frame(source, meta["crop_left"], meta["crop_top"], meta["crop_side"], 256)
        np.testing.assert_array_equal(image, expected)


def test_boxes_come_from_the_masks_where_there_are_masks(raw_run, small_tree):
    out, _ = raw_run
    for meta in (FrameShards(out).meta(i) for i in range(len(FrameShards(out)))):
        cam = get_camera("S9", meta["camera"])
        scale = video_scale(cam, 250, 250)
        uv = to_video(small_tree.poses["Directions 1"][cam.index][meta["frame"]], scale)
        box = np.array([meta["box_left"], meta["box_top"], meta["box_right"], meta["box_bottom"]])
        if meta["camera"] == CAMERA_IDS[3]:  # no .mat for this view
            assert meta["box_source"] == "joints"
            np.testing.assert_allclose(box, joint_boxes(uv[None])[0])
        else:
            c0, r0, c1, r1 = small_tree.masks[meta["camera"]][meta["frame"]]
            assert meta["box_source"] == "mask"
            np.testing.assert_array_equal(box, [c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5])
        # the crop camera maps the joints into the crop: intrinsics of the video camera, cropped
        vcam = video_camera(cam, scale, 250, 250)
        in_crop = to_crop(uv, meta["crop_left"], meta["crop_top"], meta["crop_side"], 256)
        via_k = (uv - vcam.centre_px) / vcam.focal_px * [meta["fx"], meta["fy"]] + [meta["cx"], meta["cy"]]
        np.testing.assert_allclose(via_k, in_crop, atol=1e-9)
        assert (in_crop > 0).all() and (in_crop < 255).all()
        np.testing.assert_allclose(joints_to_crop(meta, small_tree.poses["Directions 1"][cam.index][meta["frame"]]),
                                   in_crop, atol=1e-9)
        np.testing.assert_array_equal(meta["dist"][:3], cam.radial_k123)


def test_every_view_is_accounted_for(raw_run):
    out, report = raw_run
    videos = _videos(out)
    assert len(videos) == 8
    assert {videos[("Directions 1", c)]["status"] for c in CAMERA_IDS} == {"ok"}
    assert {videos[("Directions", c)]["status"] for c in CAMERA_IDS} == {"missing"}
    assert "Directions.54138969.mp4: video file is absent" in videos[("Directions", CAMERA_IDS[0])]["problems"]
    assert "ground_truth_bb/Directions 1.60457274.mat: bounding-box mask file is absent; boxes from the 2D joints" \
        in videos[("Directions 1", CAMERA_IDS[3])]["problems"]
    assert report["videos"] == {"ok": 4, "missing": 4}
    assert report["videos_without_poses"] == ["_ALL 1.54138969.mp4"]
    assert json.loads((out / "report.json").read_text()) == report


def test_jpeg_shards_hold_the_same_crops(raw_run, small_tree, tmp_path):
    out_raw, _ = raw_run
    out = tmp_path / "S9"
    out.mkdir()
    extract_subject(small_tree.raw, "S9", small_tree.poses, "test", FrameSettings(test_every_n=4, crop=256), out, workers=1)
    raw, jpeg = FrameShards(out_raw), FrameShards(out)
    assert len(raw) == len(jpeg)
    size_raw = sum(p.stat().st_size for p in (out_raw / "shards").iterdir())
    size_jpeg = sum(p.stat().st_size for p in (out / "shards").iterdir())
    assert size_jpeg < size_raw / 4
    for i in range(len(raw)):
        a, b = raw.image(i).astype(int), jpeg.image(i).astype(int)
        assert np.abs(a - b).mean() < 2.0
        assert {k: v for k, v in raw.meta(i).items() if k not in ("offset", "nbytes", "K", "dist", "R", "t_mm")} == \
            {k: v for k, v in jpeg.meta(i).items() if k not in ("offset", "nbytes", "K", "dist", "R", "t_mm")}


def test_undistorted_crops_have_a_camera_without_distortion(small_tree, tmp_path):
    out = tmp_path / "S9"
    out.mkdir()
    settings = FrameSettings(test_every_n=20, encoding="raw", undistort=True, boxes="joints", crop=256)
    extract_subject(small_tree.raw, "S9", small_tree.poses, "test", settings, out, workers=1)
    shards = FrameShards(out)
    assert len(shards) == 4 * 3
    for i in range(len(shards)):
        meta = shards.meta(i)
        assert meta["undistorted"] == 1 and not meta["dist"].any()
        cam = get_camera("S9", meta["camera"])
        scale = video_scale(cam, 250, 250)
        vcam = video_camera(cam, scale, 250, 250)
        ideal = undistort_points(to_video(small_tree.poses["Directions 1"][cam.index][meta["frame"]], scale), vcam)
        np.testing.assert_allclose([meta["box_left"], meta["box_top"], meta["box_right"], meta["box_bottom"]],
                                   joint_boxes(ideal[None])[0])
        in_crop = to_crop(ideal, meta["crop_left"], meta["crop_top"], meta["crop_side"], 256)
        assert (in_crop > 0).all() and (in_crop < 255).all()
        np.testing.assert_allclose(joints_to_crop(meta, small_tree.poses["Directions 1"][cam.index][meta["frame"]]),
                                   in_crop, atol=1e-9)


def test_excluded_views_are_not_reported_missing(small_tree, tmp_path):
    poses = {"Directions": [np.zeros((10, 17, 2))] * 4}
    excluded = Exclusions({("S11", "Directions"): (0,)}, {("S11", "Directions"): "s11_directions_cam54138969: broken"})
    jobs, others = plan_subject(small_tree.raw, "S11", poses, "test", RAW, tmp_path, excluded)
    status = {r.camera_id: (r.status, r.problems) for r in others}
    assert not jobs
    assert status["54138969"][0] == "excluded" and "s11_directions_cam54138969" in status["54138969"][1][0]
    assert {status[c][0] for c in CAMERA_IDS[1:]} == {"missing"}
    # the synthetic stand-in renders a selection: views it did not render are no problem
    _, others = plan_subject(small_tree.raw, "S11", poses, "test", RAW, tmp_path, provided=set())
    assert {r.status for r in others} == {"not_provided"} and not any(r.problems for r in others)


def test_nothing_to_extract_is_an_error(small_tree, tmp_path):
    with pytest.raises(FramesError, match="S5/Videos: folder is missing"):
        extract_subject(small_tree.raw, "S5", {}, "train", RAW, tmp_path)
    with pytest.raises(FramesError, match="none of the videos"):
        extract_subject(small_tree.raw, "S9", {"Directions": small_tree.poses["Directions"]}, "test", RAW, tmp_path)
    with pytest.raises(FramesError, match="not sequences of the official table"):
        plan_subject(small_tree.raw, "S9", {"Dancing": []}, "test", RAW, tmp_path)


def test_settings_from_params_refuse_typos_and_bad_values():
    assert FrameSettings.from_params({"every_n": 10, "workers": 2, "dask_address": None}).every_n == 10
    with pytest.raises(ValueError, match="unknown key.*evry_n"):
        FrameSettings.from_params({"evry_n": 10})
    with pytest.raises(ValueError, match="frames.every_n must be a int"):
        FrameSettings.from_params({"every_n": 2.5})
    with pytest.raises(ValueError, match="frames.boxes must be one of"):
        FrameSettings.from_params({"boxes": "detector"})
    with pytest.raises(ValueError, match="frames.undistort must be a bool"):
        FrameSettings.from_params({"undistort": "yes"})


def test_a_dask_cluster_writes_the_same_bytes_as_the_process_pool(raw_run, small_tree, tmp_path):
    distributed = pytest.importorskip("distributed")
    pool_out, _ = raw_run
    out = tmp_path / "S9"
    out.mkdir()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                  protocol="tcp://", host="127.0.0.1") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        extract_subject(small_tree.raw, "S9", small_tree.poses, "test", RAW, out,
                        dask_address=cluster.scheduler_address)
    files = sorted(p.relative_to(pool_out) for p in pool_out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert len(files) == 4 + 4
    for name in files:
        assert (pool_out / name).read_bytes() == (out / name).read_bytes(), name


def test_frames_without_a_mask_fall_back_to_their_joints(small_tree, tmp_path, media):
    raw = tmp_path / "raw"
    videos = raw / "S9" / "Videos"
    videos.mkdir(parents=True)
    name = f"Directions 1.{CAMERA_IDS[0]}"
    (videos / f"{name}.mp4").write_bytes((small_tree.raw / "S9" / "Videos" / f"{name}.mp4").read_bytes())
    boxes = list(small_tree.masks[CAMERA_IDS[0]][:10])
    boxes[4] = (0, 0, 0, 0)  # an empty mask
    media.write_masks(raw / "S9" / "MySegmentsMat" / "ground_truth_bb" / f"{name}.mat", boxes, 250, 250)
    out = tmp_path / "S9"
    out.mkdir()
    extract_subject(raw, "S9", small_tree.poses, "test", RAW, out, workers=1)
    shards = FrameShards(out)
    source = {shards.rows[i]["frame"]: shards.rows[i]["box_source"] for i in range(len(shards))}
    assert source == {f: ("mask" if f < 10 and f != 4 else "joints") for f in range(0, 41, 4)}
    row = _videos(out)[("Directions 1", CAMERA_IDS[0])]
    assert (row["status"], row["mask_boxes"], row["joint_boxes"], row["masks_held"]) == ("ok", "2", "9", "10")
    assert f"{name}.mat: 9 of 11 extracted frames have no mask or an empty one (file holds 10 masks)" in row["problems"]
