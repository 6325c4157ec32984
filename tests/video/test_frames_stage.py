"""The `frames` stage on a small tree: good videos extracted, each kind of bad input named, skipped or cut."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.vp3d_format import load_2d
from pose3d.video import FrameShards
from pose3d.video.crop import crop_frame
from tests.helpers import run_stage, write_params

C0, C1, C2, C3 = CAMERA_IDS


def _videos(folder) -> dict[tuple[str, str], dict]:
    with open(folder / "videos.csv", newline="") as f:
        return {(r["key"], r["camera_id"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def damaged(tiny_poses, tmp_path_factory, media):
    """S9 'Directions 1' and 'Directions' (8 views), most of them damaged in some way; clean frames kept aside."""
    ws = tmp_path_factory.mktemp("frames_stage")
    raw = ws / "raw"
    uv = load_2d(tiny_poses / "data_2d_h36m_gt.npz")[0]["S9"]
    videos = raw / "S9" / "Videos"
    clean = {}

    def view(key, ci, **kw):
        media.write_view(raw, "S9", key, CAMERA_IDS[ci], uv[key][ci], **kw)
        path = videos / f"{key}.{CAMERA_IDS[ci]}.mp4"
        clean[(key, CAMERA_IDS[ci])] = media.decode_all(path)
        return path

    view("Directions 1", 0)  # good, with masks
    half = view("Directions 1", 1)  # truncated: its index (moov) is at the end
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    bad = view("Directions 1", 2, faststart=True)  # overwritten bytes in the middle
    data = bytearray(bad.read_bytes())
    data[len(data) // 2:len(data) // 2 + 400] = np.random.default_rng(5).integers(0, 256, 400, dtype=np.uint8).tobytes()
    bad.write_bytes(bytes(data))
    view("Directions 1", 3, extra=-20)  # 20 frames shorter than its poses
    view("Directions", 0, masks=False)  # no .mat
    # ("Directions", 1): no video at all
    cut = view("Directions", 2, faststart=True)  # truncated, but streamable: the first half is usable
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    view("Directions", 3)  # good
    write_params(ws, dataset={"raw_dir": str(raw)},
                 frames={"test_every_n": 4, "encoding": "raw", "workers": 2, "dask_address": None})
    proc = run_stage("frames", ws, "--subject", "S9", "--poses", str(tiny_poses / "data_2d_h36m_gt.npz"))
    return ws, proc, clean, uv


def test_the_stage_extracts_what_is_good_and_names_what_is_not(damaged):
    ws, proc, clean, uv = damaged
    assert proc.returncode == 0, proc.stderr
    out = ws / "data/processed/frames/S9"
    v = _videos(out)
    assert v[("Directions 1", C0)]["status"] == "ok"
    assert v[("Directions", C3)]["status"] == "ok"
    assert v[("Directions 1", C1)]["status"] == "skipped"
    assert "Directions 1.55011271.mp4: cannot be opened as a video" in v[("Directions 1", C1)]["problems"]
    assert v[("Directions 1", C2)]["status"] in ("cut", "skipped")
    assert "Directions 1.58860488.mp4" in v[("Directions 1", C2)]["problems"]
    assert v[("Directions 1", C3)]["status"] == "cut"
    assert "video has 39 frames but the poses have 59" in v[("Directions 1", C3)]["problems"]
    assert v[("Directions", C0)]["status"] == "ok" and v[("Directions", C0)]["joint_boxes"] == "17"
    assert "Directions.54138969.mat: bounding-box mask file is absent" in v[("Directions", C0)]["problems"]
    assert v[("Directions", C1)]["status"] == "missing"
    assert v[("Directions", C2)]["status"] == "cut"
    assert "decode error" in v[("Directions", C2)]["problems"]
    # every problem is in the log too, with the file it concerns
    for needle in ("Directions 1.55011271.mp4: cannot be opened", "Directions 1.58860488.mp4",
                   "Directions 1.60457274.mp4: video has 39 frames", "Directions.54138969.mat: bounding-box mask file is absent",
                   "Directions.55011271.mp4: video file is absent", "Directions.58860488.mp4: decode error"):
        assert needle in proc.stderr, needle
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "test" and report["every_n"] == 4
    assert report["videos"]["missing"] == 4 * 30 - 7  # the other 28 sequences have no videos here
    assert (ws / "data/processed/frames-S9.provenance.json").is_file()


def test_no_frame_of_a_damaged_video_is_wrong(damaged):
    ws, proc, clean, uv = damaged
    shards = FrameShards(ws / "data/processed/frames/S9")
    kept: dict[tuple[str, str], list[int]] = {}
    for i in range(len(shards)):
        image, meta = shards[i]
        kept.setdefault((meta["key"], meta["camera"]), []).append(meta["frame"])
        source = clean[(meta["key"], meta["camera"])][meta["frame"]]
        np.testing.assert_array_equal(image, crop_frame(source, meta["crop_left"], meta["crop_top"], meta["crop_side"],
                                                       meta["crop_size"]))
    assert kept[("Directions 1", C0)] == list(range(0, 59, 4))
    assert kept[("Directions", C3)] == list(range(0, 67, 4))
    assert kept[("Directions 1", C3)] == list(range(0, 39, 4))
    assert ("Directions 1", C1) not in kept and ("Directions", C1) not in kept
    assert 0 < len(kept[("Directions", C2)]) < len(range(0, 67, 4))
    v = _videos(ws / "data/processed/frames/S9")
    for (key, cam), frames in kept.items():
        assert int(v[(key, cam)]["kept"]) == len(frames)


def test_stage_settings_errors_are_clear(tiny_poses, tmp_path):
    poses = str(tiny_poses / "data_2d_h36m_gt.npz")
    raw = tmp_path / "raw"
    (raw / "S9").mkdir(parents=True)
    write_params(tmp_path, dataset={"raw_dir": str(raw)}, frames={"evry_n": 3})
    proc = run_stage("frames", tmp_path, "--subject", "S9", "--poses", poses)
    assert proc.returncode == 1 and "frames: unknown key 'evry_n'; did you mean 'every_n'?" in proc.stderr
    write_params(tmp_path, dataset={"raw_dir": str(raw), "train_subjects": ["S1"], "test_subjects": ["S11"]}, frames={})
    proc = run_stage("frames", tmp_path, "--subject", "S9", "--poses", poses)
    assert proc.returncode == 1 and "S9 is in neither dataset.train_subjects" in proc.stderr
    write_params(tmp_path, dataset={"raw_dir": str(raw)}, frames={})
    proc = run_stage("frames", tmp_path, "--subject", "S9", "--poses", poses)
    assert proc.returncode == 1 and "S9/Videos: folder is missing" in proc.stderr
    assert not (tmp_path / "data/processed/frames/S9").exists()


def test_a_synthetic_tree_says_which_videos_it_has(tiny_poses, tmp_path, media):
    raw = tmp_path / "raw"
    uv = load_2d(tiny_poses / "data_2d_h36m_gt.npz")[0]["S1"]
    media.write_view(raw, "S1", "Directions 1", C1, uv["Directions 1"][1])
    manifest = {"generator": "test", "videos": {"video_frames": {"S1": {f"Directions 1.{C1}": 41}}}}
    (raw / "synthetic_manifest.json").write_text(json.dumps(manifest))
    write_params(tmp_path, dataset={"raw_dir": str(raw)}, frames={"workers": 1})
    proc = run_stage("frames", tmp_path, "--subject", "S1", "--poses", str(tiny_poses / "data_2d_h36m_gt.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr  # views the stand-in did not render are not problems
    report = json.loads((tmp_path / "data/processed/frames/S1/report.json").read_text())
    assert report["split"] == "train" and report["every_n"] == 5
    assert report["videos"] == {"ok": 1, "not_provided": 119} and report["crops"] == 8
    manifest["videos"]["video_frames"] = {"S5": {}}
    (raw / "synthetic_manifest.json").write_text(json.dumps(manifest))
    proc = run_stage("frames", tmp_path, "--subject", "S1", "--poses", str(tiny_poses / "data_2d_h36m_gt.npz"))
    assert proc.returncode == 1 and "generated without videos of S1" in proc.stderr


def test_a_view_convert_excluded_is_not_extracted(tiny_poses_excluding, tmp_path, media):
    poses = tiny_poses_excluding("s11_directions_cam54138969")
    raw = tmp_path / "raw"
    uv = load_2d(poses / "data_2d_h36m_gt.npz")[0]["S11"]["Directions"]
    for ci in (0, 1):
        media.write_view(raw, "S11", "Directions", CAMERA_IDS[ci], uv[ci])
    rendered = {f"Directions.{c}": len(uv[0]) for c in (C0, C1)}
    (raw / "synthetic_manifest.json").write_text(json.dumps({"videos": {"video_frames": {"S11": rendered}}}))
    write_params(tmp_path, dataset={"raw_dir": str(raw)}, frames={"workers": 1})
    args = ("--subject", "S11", "--poses", str(poses / "data_2d_h36m_gt.npz"))
    proc = run_stage("frames", tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "data/processed/frames/S11"
    v = _videos(out)
    assert v[("Directions", C0)]["status"] == "excluded"
    assert "s11_directions_cam54138969" in v[("Directions", C0)]["problems"]
    assert v[("Directions", C1)]["status"] == "ok"
    shards = FrameShards(out)
    assert len(shards) > 0 and {shards.meta(i)["camera"] for i in range(len(shards))} == {C1}
    proc = run_stage("frames", tmp_path, *args, "--sequences", str(tmp_path / "absent.csv"))
    assert proc.returncode == 1 and "absent.csv: sequence table is missing" in proc.stderr
