"""The mmpose export of the tiny stand-in, read back the way mmpose reads it.

mmpose's ``Human36mDataset`` loads the npz with ``np.load`` and ``cameras.pkl`` with
``pickle``; it parses each ``imgname`` for the subject, sequence and camera. The checks
below recompute everything from our inputs and from the exported camera parameters alone
(the H36M distortion model is written out here, not imported).
"""
from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from pose3d.export import mmpose
from pose3d.export.images import crop_region
from pose3d.h36m.cameras import CAMERA_IDS, SUBJECTS_LABELLED, get_camera
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.sequences_csv import read_exclusions
from pose3d.h36m.skeleton import to_17
from pose3d.video.jpeg import decode_jpeg
from pose3d.video.reader import read_index

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"
CAMERA_KEYS = ("R", "T", "c", "f", "k", "p", "w", "h", "name", "id")
ARRAY_SHAPES = {"R": (3, 3), "T": (3, 1), "c": (2, 1), "f": (2, 1), "k": (3, 1), "p": (2, 1)}


@pytest.fixture(scope="module")
def result(exported):
    return exported("mmpose")


@pytest.fixture(scope="module")
def fps_dir(result, export_settings) -> Path:
    out, _ = result
    return out / "annotation_body3d" / f"fps{50 // export_settings.mmpose_sample_rate}"


@pytest.fixture(scope="module")
def data(fps_dir) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for split in ("train", "test"):
        with np.load(fps_dir / f"h36m_{split}.npz") as f:
            out[split] = {k: f[k] for k in f.files}
    return out


@pytest.fixture(scope="module")
def cameras(result) -> dict:
    out, _ = result
    with open(out / "annotation_body3d" / "cameras.pkl", "rb") as f:
        return pickle.load(f)


def parse(name: str) -> tuple[str, str, str, int]:
    """mmpose's ``_parse_h36m_imgname`` on the base name, plus the 1-based frame number."""
    subj, rest = Path(name).name.split("_", 1)
    action, rest = rest.split(".", 1)
    camera, rest = rest.split("_", 1)
    return subj, action, camera, int(rest.removesuffix(".jpg"))


def expected_views(inputs, subjects, rate) -> list[tuple[str, str, str, str, int]]:
    """(subject, key, file base, camera id, frames) of every view that must have rows, in mmpose's order."""
    dropped = read_exclusions(inputs.poses_dir / "sequences.csv").views()
    views = []
    for s in subjects:
        for seq in subject_sequences(s):
            if seq.key in inputs.poses_3d.get(s, {}):
                n = inputs.poses_3d[s][seq.key].shape[0]
                views += [(s, seq.key, seq.file_base, c, n)
                          for i, c in enumerate(CAMERA_IDS) if (s, seq.key, i) not in dropped]
    return views


def project_h36m(xyz: np.ndarray, cam: dict) -> np.ndarray:
    """Camera-frame points (..., 3) -> distorted pixels with a ``cameras.pkl`` entry (reference 3.6).

    ``p`` is in metadata order (pA, pB); VideoPose3D's (p1, p2) is its reverse.
    """
    x, y = xyz[..., 0] / xyz[..., 2], xyz[..., 1] / xyz[..., 2]
    k1, k2, k3 = cam["k"].ravel()
    p1, p2 = cam["p"].ravel()[::-1]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    xd = x * (radial + tan) + p1 * r2
    yd = y * (radial + tan) + p2 * r2
    f, c = cam["f"].ravel(), cam["c"].ravel()
    return np.stack([f[0] * xd + c[0], f[1] * yd + c[1]], axis=-1)


def test_files_keys_dtypes_and_shapes(result, fps_dir, data, export_settings):
    out, summary = result
    assert (out / "README.md").is_file() and "data/h36m/" in (out / "README.md").read_text()
    assert (out / "annotation_body3d" / "cameras.pkl").is_file()
    for name in ("joint2d_stats", "joint3d_stats", "joint2d_rel_stats", "joint3d_rel_stats"):
        with open(fps_dir / f"{name}.pkl", "rb") as f:
            stats = pickle.load(f)
        k, d = (16 if "rel" in name else 17), int(name[5])
        assert set(stats) == {"mean", "std"} and stats["mean"].shape == stats["std"].shape == (k, d)
    for split in ("train", "test"):
        a = data[split]
        n = len(a["imgname"])
        assert n > 0 and summary["rows"][split] == n
        assert set(a) == {"imgname", "center", "scale", "part", "S"}
        assert a["imgname"].dtype.kind == "U" and a["imgname"].shape == (n,)
        assert a["center"].shape == (n, 2) and a["scale"].shape == (n,)
        assert a["part"].shape == (n, 17, 3) and a["S"].shape == (n, 17, 4)
        for k in ("center", "scale", "part", "S"):
            assert a[k].dtype == np.float64, k
        assert np.all(a["part"][..., 2] == 1.0) and np.all(a["S"][..., 3] == 1.0)
        assert np.isfinite(a["part"]).all() and np.isfinite(a["S"]).all()
    assert {"images", "image_bytes", "image_seconds"} <= set(summary)


def test_train_stats_are_those_of_the_training_rows(fps_dir, data):
    s = data["train"]["S"][..., :3]
    with open(fps_dir / "joint3d_rel_stats.pkl", "rb") as f:
        rel = pickle.load(f)
    np.testing.assert_allclose(rel["mean"], (s[:, 1:] - s[:, :1]).mean(axis=0), atol=1e-12)
    with open(fps_dir / "joint2d_stats.pkl", "rb") as f:
        st = pickle.load(f)
    np.testing.assert_allclose(st["std"], data["train"]["part"][..., :2].std(axis=0), atol=1e-9)


def test_rows_are_every_rate_th_frame_of_every_view_in_order(data, export_inputs, export_settings):
    rate = export_settings.mmpose_sample_rate
    for split, subjects in (("train", export_settings.train_subjects), ("test", export_settings.test_subjects)):
        views = expected_views(export_inputs, subjects, rate)
        assert len(data[split]["imgname"]) == sum(math.ceil(n / rate) for *_, n in views)
        expected = [mmpose.image_name(s, base, cam, f) for s, _k, base, cam, n in views for f in range(0, n, rate)]
        assert data[split]["imgname"].tolist() == expected
        present = {p[0] for p in map(parse, data[split]["imgname"])}
        assert present == {s for s in subjects if s in export_inputs.poses_3d}


def test_imgnames_parse_as_mmpose_parses_them(data, export_inputs, export_settings):
    rate = export_settings.mmpose_sample_rate
    train, test = set(export_settings.train_subjects), set(export_settings.test_subjects)
    for split, allowed in (("train", train), ("test", test)):
        for name in data[split]["imgname"]:
            subj, action, camera, frame = parse(name)
            assert subj in allowed and camera in CAMERA_IDS
            assert (frame - 1) % rate == 0
            seqs = {q.file_base.replace(" ", "_"): q for q in subject_sequences(subj)}
            assert action in seqs, name
            n = export_inputs.poses_3d[subj][seqs[action].key].shape[0]
            assert frame <= n
            base = f"{subj}_{action}.{camera}"
            assert name == f"{subj}/{base}/{base}_{frame:06d}.jpg"


def test_image_names_follow_the_converter():
    assert mmpose.image_name("S1", "TakingPhoto 1", "54138969", 0) == \
        "S1/S1_TakingPhoto_1.54138969/S1_TakingPhoto_1.54138969_000001.jpg"
    with np.load(FIXTURE / "test_h36m_body3d.npz") as f:
        fixture = f["imgname"].tolist()
    samples = [("S1", "Directions 1", "54138969", 0), ("S5", "SittingDown", "54138969", 2060),
               ("S7", "Greeting", "55011271", 395), ("S8", "WalkDog 1", "55011271", 25)]
    assert [mmpose.image_name(*s) for s in samples] == fixture
    for name in fixture:  # the fixture's own images sit at those paths
        assert (FIXTURE / name).is_file()


def test_part_is_our_2d_and_s_our_world_3d_in_the_camera(data, cameras, export_inputs, export_settings):
    rate = export_settings.mmpose_sample_rate
    for split, subjects in (("train", export_settings.train_subjects), ("test", export_settings.test_subjects)):
        a, row = data[split], 0
        for s, key, _base, cam_id, n in expected_views(export_inputs, subjects, rate):
            m = math.ceil(n / rate)
            part, xyz = a["part"][row:row + m, :, :2], a["S"][row:row + m, :, :3]
            ci = CAMERA_IDS.index(cam_id)
            np.testing.assert_array_equal(part, export_inputs.poses_2d[s][key][ci][::rate].astype(np.float64))
            cam = cameras[(s, cam_id)]
            world = xyz @ cam["R"].T + cam["T"].ravel()  # mmpose: X_cam = (X - T) R, row vectors
            ours = to_17(export_inputs.poses_3d[s][key][::rate]).astype(np.float64)
            np.testing.assert_allclose(world, ours, atol=1e-6, err_msg=f"{s} {key} {cam_id}")
            assert (xyz[..., 2] > 0).all()
            row += m
        assert row == len(a["imgname"])


def test_projecting_s_with_the_exported_cameras_lands_on_part(data, cameras):
    worst = 0.0
    for split in ("train", "test"):
        a = data[split]
        for i, name in enumerate(a["imgname"]):
            subj, _, camera, _ = parse(name)
            uv = project_h36m(a["S"][i, :, :3], cameras[(subj, camera)])
            worst = max(worst, float(np.abs(uv - a["part"][i, :, :2]).max()))
    assert worst < 1e-3, worst


def test_center_and_scale_are_the_tight_joint_box(data):
    for split in ("train", "test"):
        a = data[split]
        xy = a["part"][..., :2]
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        np.testing.assert_allclose(a["center"], (lo + hi) / 2, atol=1e-9)
        np.testing.assert_allclose(a["scale"], 1.2 * (hi - lo).max(axis=1) / 200, atol=1e-12)
        assert (a["scale"] > 0).all()


def test_cameras_pkl_has_every_subject_with_the_fixture_structure(cameras, export_inputs):
    assert set(cameras) == {(s, c) for s in export_inputs.poses_3d for c in CAMERA_IDS}
    with open(FIXTURE / "cameras.pkl", "rb") as f:
        fixture = pickle.load(f)
    for key, cam in cameras.items():
        assert isinstance(key[0], str) and isinstance(key[1], str)
        assert tuple(cam) == CAMERA_KEYS, key
        for k, shape in ARRAY_SHAPES.items():
            assert isinstance(cam[k], np.ndarray) and cam[k].dtype == np.float64 and cam[k].shape == shape, (key, k)
        assert type(cam["w"]) is int and type(cam["h"]) is int
        assert cam["name"] == f"camera{CAMERA_IDS.index(key[1]) + 1}" and cam["id"] == key[1]
        np.testing.assert_allclose(cam["R"] @ cam["R"].T, np.eye(3), atol=1e-9)
        assert np.linalg.det(cam["R"]) == pytest.approx(1.0)
        ref = fixture[key]
        for k in ("c", "f", "k", "p"):
            np.testing.assert_allclose(cam[k], ref[k], rtol=1e-7, atol=1e-12, err_msg=f"{key} {k}")
        np.testing.assert_allclose(cam["R"], ref["R"], atol=1e-6)
        np.testing.assert_allclose(cam["T"], ref["T"], atol=1e-6)
        assert (cam["w"], cam["h"], cam["name"], cam["id"]) == (ref["w"], ref["h"], ref["name"], ref["id"])


def test_camera_entries_match_the_fixture_for_all_44_keys():
    with open(FIXTURE / "cameras.pkl", "rb") as f:
        fixture = pickle.load(f)
    assert len(fixture) == 44
    for (s, c), ref in fixture.items():
        ours = mmpose.camera_entry(s, c)
        assert tuple(ours) == tuple(ref)
        # R: 1e-7 from VideoPose3D's float32 quaternions; S2, S3, S4 and S10's quaternions are rounded to 6 decimals
        r_tol = 1e-7 if s in SUBJECTS_LABELLED else 2e-6
        for k in ARRAY_SHAPES:
            assert ours[k].shape == ref[k].shape and ours[k].dtype == ref[k].dtype
            atol = r_tol if k == "R" else 1e-7
            np.testing.assert_allclose(ours[k], ref[k], atol=atol, rtol=1e-7, err_msg=f"{s} {c} {k}")
        assert all(ours[k] == ref[k] and type(ours[k]) is type(ref[k]) for k in ("w", "h", "name", "id"))


def kept_names(export_inputs, export_settings) -> dict[str, dict]:
    """images/<imgname> -> frames index row, for the crops whose frame has a row."""
    rate = export_settings.mmpose_sample_rate
    subjects = {*export_settings.train_subjects, *export_settings.test_subjects}
    dropped = read_exclusions(export_inputs.poses_dir / "sequences.csv").views()
    out = {}
    for folder in export_inputs.frame_folders():
        for r in read_index(folder):
            if r["subject"] in subjects and r["frame"] % rate == 0 \
                    and (r["subject"], r["key"], r["camera_index"]) not in dropped:
                out["images/" + mmpose.image_name(r["subject"], r["file_base"], r["camera"], r["frame"])] = r
    return out


def test_images_exist_for_the_kept_frames_of_rows(result, data, export_inputs, export_settings):
    out, summary = result
    expected = kept_names(export_inputs, export_settings)
    written = {p.relative_to(out).as_posix() for p in (out / "images").rglob("*.jpg")}
    assert written == set(expected)
    assert summary["images"] == len(written) > 0 and summary["image_bytes"] > 0
    names = {"images/" + n for split in data.values() for n in split["imgname"]}
    assert written <= names
    assert {r["subject"] for r in expected.values()} == {"S1", "S9"}


def test_images_have_the_camera_size_and_hold_the_joints(result, data, export_inputs, export_settings):
    """Full camera-size frames, black outside the crop's square, with the row's 2D joints on the lit part."""
    out, _ = result
    rows = {n: (split, i) for split, a in data.items() for i, n in enumerate(a["imgname"])}
    crops = kept_names(export_inputs, export_settings)
    checked = 0
    for path in sorted((out / "images").rglob("*.jpg")):
        name = path.relative_to(out).as_posix()
        split, i = rows[name.removeprefix("images/")]
        subj, _, camera, _ = parse(name)
        img = decode_jpeg(path.read_bytes())
        cam = get_camera(subj, camera)
        assert img.shape == (cam.height_px, cam.width_px, 3), name
        lit = np.argwhere(img.max(axis=2) > 40)
        assert len(lit), name
        (top, left), (bottom, right) = lit.min(axis=0), lit.max(axis=0)
        sq_left, sq_top, side = crop_region(crops[name], cam)
        assert sq_left - 3 <= left and right <= sq_left + side + 3, name  # nothing lit outside the square
        assert sq_top - 3 <= top and bottom <= sq_top + side + 3, name
        assert side < min(cam.width_px, cam.height_px), name
        uv = data[split]["part"][i, :, :2]
        assert (uv[:, 0] >= left - 2).all() and (uv[:, 0] <= right + 2).all(), name
        assert (uv[:, 1] >= top - 2).all() and (uv[:, 1] <= bottom + 2).all(), name
        checked += 1
    assert checked > 0


def test_a_view_excluded_in_sequences_csv_has_no_rows(export_inputs, export_settings):
    """A camera-only exclusion (e.g. s11_directions_cam54138969) keeps the view in the npz files; its rows go."""
    rate = export_settings.mmpose_sample_rate
    subject = "S1"
    seq = next(q for q in subject_sequences(subject) if q.key in export_inputs.poses_3d[subject])
    key = seq.key
    full = mmpose.split_arrays(export_inputs, [subject], rate)
    less = mmpose.split_arrays(export_inputs, [subject], rate, frozenset({(subject, key, 0)}))
    n = export_inputs.poses_3d[subject][key].shape[0]
    assert len(full["imgname"]) - len(less["imgname"]) == math.ceil(n / rate)
    gone = {n for n in full["imgname"] if f".{CAMERA_IDS[0]}_" in n and parse(n)[1] == seq.file_base.replace(" ", "_")}
    assert gone and not gone & set(less["imgname"])


def test_repeated_export_gives_the_same_bytes(export_inputs, export_settings, tmp_path):
    from pose3d.export.common import Inputs

    no_frames = Inputs(export_inputs.poses_dir, tmp_path / "no_frames", export_inputs.priors_dir)
    for name in ("a", "b"):
        mmpose.export(no_frames, tmp_path / name, export_settings)
    for rel in ("annotation_body3d/fps10/h36m_train.npz", "annotation_body3d/fps10/h36m_test.npz",
                "annotation_body3d/cameras.pkl", "annotation_body3d/fps10/joint2d_stats.pkl"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert not (tmp_path / "a" / "images").exists()
