"""The Integral export read back as the seed's loader reads it: ``scipy.io.loadmat`` per view, jpgs by 1-based frame."""
from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from pose3d.export import integral
from pose3d.export.common import ExportError, ExportSettings, Inputs
from pose3d.export.images import crop_region
from pose3d.geometry.projection import project_camera, project_world
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.sequences_csv import read_exclusions
from pose3d.h36m.skeleton import to_17
from pose3d.video.reader import read_index

ROOT = "data/Human36M/data"
S11_BROKEN = "s_11_act_02_subact_02_ca_01"
FIELDS = {"pose3d_world", "R", "T", "f", "c", "img_height", "img_width"}


def folder_name(subject: str, action_id: int, subaction: int, camera_index: int) -> str:
    return f"s_{int(subject[1:]):02d}_act_{action_id:02d}_subact_{subaction:02d}_ca_{camera_index + 1:02d}"


def expected_views(inputs: Inputs) -> dict[str, tuple[str, str, int]]:
    """{folder: (subject, key, camera index)} of every view the poses hold, less exclusions and the seed's skip."""
    excl = read_exclusions(inputs.poses_dir / "sequences.csv")
    views = {}
    for subject, actions in inputs.poses_3d.items():
        seqs = {q.key: q for q in subject_sequences(subject)}
        for key in actions:
            q = seqs[key]
            for ci in range(4):
                name = folder_name(subject, q.action_id, q.subaction, ci)
                if ci not in excl.of(subject, key) and name != S11_BROKEN:
                    views[name] = (subject, key, ci)
    return views


def load_meta(folder: Path) -> dict:
    return scipy.io.loadmat(folder / "h36m_meta.mat")  # as data/Human36M/Human36M.py reads it


@pytest.fixture(scope="module")
def integral_out(exported):
    return exported("integral")


@pytest.fixture(scope="module")
def kept_rows(export_inputs) -> list[dict]:
    """Every crop the frames stage kept (S1 and S9)."""
    return [r for folder in export_inputs.frame_folders() for r in read_index(folder)]


def test_layout_and_folders(integral_out, export_inputs):
    out, summary = integral_out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data"]
    root = out / ROOT
    folders = {p.name for p in root.iterdir()}
    want = expected_views(export_inputs)
    assert folders == set(want)
    assert summary["views"] == len(want) == len(folders)
    assert all((root / f / "h36m_meta.mat").is_file() for f in folders)
    # the tiny stand-in holds all 30 sequences; the default rule drops S11 Directions (sub-action 2) on all cameras
    per_subject = {s: sum(1 for v in want.values() if v[0] == s) for s in ("S1", "S5", "S6", "S7", "S8", "S9", "S11")}
    assert per_subject == {"S1": 120, "S5": 120, "S6": 120, "S7": 120, "S8": 120, "S9": 120, "S11": 116}
    assert S11_BROKEN not in folders
    assert "s_01_act_02_subact_01_ca_01" in folders and "s_11_act_02_subact_01_ca_01" in folders
    readme = (out / "README.md").read_text()
    assert "data/Human36M/data" in readme and "python train.py" in readme and "python test.py" in readme
    assert "s11_directions_cam54138969" in readme


def test_meta_matches_poses_and_cameras(integral_out, export_inputs):
    out, _ = integral_out
    root = out / ROOT
    views = expected_views(export_inputs)
    assert views
    for name, (subject, key, ci) in views.items():
        meta = load_meta(root / name)
        assert FIELDS <= set(meta), name
        cam = get_camera(subject, ci)
        poses = export_inputs.poses_3d[subject][key]
        n = len(poses)
        world = meta["pose3d_world"]
        assert world.shape == (n, 17, 3) and world.dtype == np.float64, name
        np.testing.assert_allclose(world, to_17(poses).astype(np.float64) * 1000.0, rtol=0, atol=1e-9)
        assert meta["R"].shape == (3, 3) and meta["T"].shape == (1, 3), name
        assert meta["f"].shape == (1, 2) and meta["c"].shape == (1, 2), name
        np.testing.assert_allclose(meta["R"], cam.r_world_to_cam, rtol=0, atol=1e-12)
        np.testing.assert_allclose(meta["T"].reshape(3), cam.centre_mm, rtol=0, atol=1e-9)
        np.testing.assert_allclose(meta["f"].reshape(-1), cam.focal_px, rtol=0, atol=1e-9)
        np.testing.assert_allclose(meta["c"].reshape(-1), cam.centre_px, rtol=0, atol=1e-9)
        assert meta["img_height"].shape == meta["img_width"].shape == (n, 1), name
        assert np.all(meta["img_height"] == cam.height_px) and np.all(meta["img_width"] == cam.width_px), name


def test_meta_projects_onto_2d_ground_truth(integral_out, export_inputs):
    """The loader's camera frame R (X - T), with f, c and our distortion, lands on the 2D ground truth."""
    out, _ = integral_out
    views = expected_views(export_inputs)
    for name in sorted(views)[::7] + [n for n in views if n.startswith("s_11_act_02") or n.startswith("s_09_act_14")]:
        subject, key, ci = views[name]
        meta = load_meta(out / ROOT / name)
        cam = get_camera(subject, ci)
        file_cam = dataclasses.replace(cam, focal_px=meta["f"].reshape(2), centre_px=meta["c"].reshape(2))
        x_cam = (meta["pose3d_world"] - meta["T"].reshape(3)) @ meta["R"].T
        uv_gt = export_inputs.poses_2d[subject][key][ci]
        np.testing.assert_allclose(project_camera(x_cam, file_cam), uv_gt, rtol=0, atol=1e-3, err_msg=name)
        np.testing.assert_allclose(project_world(meta["pose3d_world"], cam), uv_gt, rtol=0, atol=1e-3, err_msg=name)


def test_images_only_for_frames_the_loader_reads(integral_out, export_inputs, kept_rows):
    out, summary = integral_out
    root = out / ROOT
    views = expected_views(export_inputs)
    kept: dict[str, set[int]] = {}
    for r in kept_rows:
        q = {s.key: s for s in subject_sequences(r["subject"])}[r["key"]]
        kept.setdefault(folder_name(r["subject"], q.action_id, q.subaction, CAMERA_IDS.index(r["camera"])), set()).add(r["frame"])
    images = {}
    for folder in root.iterdir():
        names = sorted(p.name for p in folder.glob("*.jpg"))
        if names:
            assert all(n.startswith(folder.name + "_") and len(n) == len(folder.name) + 11 for n in names), folder.name
            images[folder.name] = {int(n[-10:-4]) - 1 for n in names}  # 1-based on disk
    assert images, "no images exported"
    assert set(images) == set(kept), "images only (and always) for views with kept crops"
    assert sum(len(v) for v in images.values()) == summary["images"]
    assert summary["views_with_images"] == len(images)
    seen_steps = set()
    for name, frames in images.items():
        subject, key, _ = views[name]
        n = len(export_inputs.poses_3d[subject][key])
        step = 64 if subject in ("S9", "S11") else 5
        seen_steps.add(step)
        assert frames == set(range(0, n, step)) & kept[name], name
        assert frames == set(range(0, n, step)), f"{name}: the loader reads frames without an image"
    assert seen_steps == {5, 64}  # both a training subject (S1) and a test subject (S9) were checked
    assert any(len(f) > 1 for n, f in images.items() if n.startswith("s_09_")), "no S9 view reaches frame 64"
    # the stand-in renders videos for Directions (2) and Walking (14) of S1 and S9 only
    assert {n[:12] for n in images} <= {"s_01_act_02_", "s_01_act_14_", "s_09_act_02_", "s_09_act_14_"}
    assert any(n.startswith("s_09_") for n in images) and any(n.startswith("s_01_") for n in images)


@pytest.mark.parametrize("pick", [0, 7, -1])
def test_image_content(integral_out, export_inputs, kept_rows, pick):
    out, _ = integral_out
    for subject, step in (("S1", 5), ("S9", 64)):
        rows = [r for r in kept_rows if r["subject"] == subject and r["frame"] % step == 0]
        r = rows[pick]
        ci = CAMERA_IDS.index(r["camera"])
        cam = get_camera(subject, ci)
        q = {s.key: s for s in subject_sequences(subject)}[r["key"]]
        name = folder_name(subject, q.action_id, q.subaction, ci)
        path = out / ROOT / name / f"{name}_{r['frame'] + 1:06d}.jpg"
        assert path.is_file(), path
        img = np.asarray(Image.open(path).convert("RGB"))
        assert img.shape == (cam.height_px, cam.width_px, 3), path
        meta = load_meta(out / ROOT / name)
        uv = project_world(meta["pose3d_world"][r["frame"]], cam)
        np.testing.assert_allclose(uv, export_inputs.poses_2d[subject][r["key"]][ci][r["frame"]], rtol=0, atol=1e-3)
        u, v = np.round(uv[0]).astype(int)  # pelvis
        assert img[v - 2:v + 3, u - 2:u + 3].max() > 30, f"{path}: black at the pelvis"
        left, top, side = crop_region(r, cam)
        corners = [(0, 0), (0, cam.width_px - 1), (cam.height_px - 1, 0), (cam.height_px - 1, cam.width_px - 1)]
        outside = [(y, x) for y, x in corners if not (left - 8 <= x <= left + side + 8 and top - 8 <= y <= top + side + 8)]
        assert outside, "the crop covers every corner"
        y, x = outside[0]
        assert img[max(0, y - 3):y + 4, max(0, x - 3):x + 4].max() <= 3, f"{path}: corner not black"


def test_seed_skip_applies_without_exclusions(tiny_poses_excluding, tmp_path):
    """With no dataset.exclude rule, S11 Directions-2 is written on cameras 2..4, never on camera 1."""
    poses = tiny_poses_excluding()
    inputs = Inputs(poses, tmp_path / "no_frames", tmp_path / "no_priors")
    assert "Directions" in inputs.poses_3d["S11"]
    summary = integral.export(inputs, tmp_path / "out", ExportSettings())
    root = tmp_path / "out" / ROOT
    folders = {p.name for p in root.iterdir()}
    assert S11_BROKEN not in folders
    assert {f"s_11_act_02_subact_02_ca_0{c}" for c in (2, 3, 4)} <= folders
    assert summary["views"] == len(folders) == 7 * 30 * 4 - 1
    assert summary["images"] == 0 and not list(root.glob("*/*.jpg"))


def test_excluded_camera_is_absent(export_inputs, tmp_path):
    """A camera that convert's sequences.csv excludes gets no folder; the sequence's other cameras do."""
    poses = tmp_path / "poses"
    poses.mkdir()
    shutil.copy(export_inputs.poses_3d_path, poses)
    with open(export_inputs.poses_dir / "sequences.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["subject"] == "S5" and r["key"] == "Eating 1")
    row["excluded_cameras"], row["excluded_reason"] = "58860488", "test"
    with open(poses / "sequences.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = integral.export(Inputs(poses, tmp_path / "frames", tmp_path / "priors"), tmp_path / "out", ExportSettings())
    q = {s.key: s for s in subject_sequences("S5")}["Eating 1"]
    folders = {p.name for p in (tmp_path / "out" / ROOT).iterdir()}
    assert folder_name("S5", q.action_id, q.subaction, 2) not in folders
    assert {folder_name("S5", q.action_id, q.subaction, c) for c in (0, 1, 3)} <= folders
    assert summary["views"] == len(folders) == 836 - 1


def test_frame_step_follows_the_split(export_inputs, tmp_path):
    """S1 as a test subject: only its every 64th frame gets an image, though frames kept every 5th."""
    settings = ExportSettings(train_subjects=("S5", "S6", "S7", "S8"), test_subjects=("S1", "S9", "S11"))
    summary = integral.export(export_inputs, tmp_path / "out", settings)
    s1 = [int(p.name[-10:-4]) - 1 for p in (tmp_path / "out" / ROOT).glob("s_01_*/*.jpg")]
    assert s1 and all(f % 64 == 0 for f in s1)
    kept_s1 = [r for folder in export_inputs.frame_folders() for r in read_index(folder) if r["subject"] == "S1"]
    assert len(s1) == sum(1 for r in kept_s1 if r["frame"] % 64 == 0) < len(kept_s1)
    assert summary["images"] == len(list((tmp_path / "out" / ROOT).glob("*/*.jpg")))


def test_missing_3d_poses(tmp_path):
    with pytest.raises(ExportError) as err:
        integral.export(Inputs(tmp_path / "poses", tmp_path / "frames", tmp_path / "priors"), tmp_path / "out", ExportSettings())
    assert err.value.path.endswith("data_3d_h36m.npz") and "3D poses missing" in str(err.value)


def test_missing_sequence_table(export_inputs, tmp_path):
    poses = tmp_path / "poses"
    poses.mkdir()
    shutil.copy(export_inputs.poses_3d_path, poses)
    with pytest.raises(ExportError) as err:
        integral.export(Inputs(poses, tmp_path / "frames", tmp_path / "priors"), tmp_path / "out", ExportSettings())
    assert err.value.path.endswith("sequences.csv")


def test_wrong_pose_shape(export_inputs, tmp_path):
    poses = tmp_path / "poses"
    poses.mkdir()
    shutil.copy(export_inputs.poses_dir / "sequences.csv", poses)
    np.savez(poses / "data_3d_h36m.npz", positions_3d={"S1": {"Directions 1": np.zeros((10, 17, 3), np.float32)}})
    with pytest.raises(ExportError) as err:
        integral.export(Inputs(poses, tmp_path / "frames", tmp_path / "priors"), tmp_path / "out", ExportSettings())
    assert err.value.path.endswith("data_3d_h36m.npz") and "(N, 32, 3)" in str(err.value)
