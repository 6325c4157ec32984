"""Importers of other detectors' 2D outputs, checked against mmpose's real Human3.6M fixture."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pose3d.detections.coco import HEAD_PUSH, coco_to_h36m
from pose3d.detections.importers import assemble, import_detections
from pose3d.detections.parsing import Slot, parse_image_name
from pose3d.detections.readers import read_detections
from pose3d.detections.load import DetectionsError
from pose3d.h36m.skeleton import H36M17, JOINT_NAMES_17
from pose3d.h36m.vp3d_format import load_2d

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/mmpose-h36m"
DET_NPY = FIXTURE / "test_h36m_2d_detection.npy"
ANNOT_NPZ = FIXTURE / "test_h36m_body3d.npz"
COCO_ANNOT = FIXTURE / "h36m_coco.json"
#: The fixture's four samples (tests/fixtures/README.md): subject, action key, camera index, 0-based frame.
SAMPLES = [("S1", "Directions 1", 0, 0), ("S5", "SittingDown", 0, 2060), ("S7", "Greeting", 1, 395),
           ("S8", "WalkDog 1", 1, 25)]
RIGHT, LEFT = list(H36M17.joints_right), list(H36M17.joints_left)
#: COCO index -> Human3.6M-17 index of the joints a COCO detector reports directly.
COCO_FROM_H36M = {0: 9, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}


def gt_part() -> np.ndarray:
    with np.load(ANNOT_NPZ) as data:
        return data["part"][:, :, :2]


def imported(tmp_path: Path, fmt: str, path: Path, annotations: Path | None = None, poses: Path | None = None):
    out = tmp_path / "out.npz"
    summary = import_detections(fmt, path, out, annotations, poses)
    positions, meta = load_2d(out)
    return positions, meta, summary


# --- mmpose --------------------------------------------------------------------------------


def test_mmpose_npy_lands_in_the_right_slots(tmp_path):
    det = np.load(DET_NPY)
    positions, meta, summary = imported(tmp_path, "mmpose", DET_NPY, ANNOT_NPZ)
    assert sorted(positions) == ["S1", "S5", "S7", "S8"]
    gt = gt_part()
    for i, (s, a, cam, frame) in enumerate(SAMPLES):
        assert list(positions[s]) == [a]
        views = positions[s][a]
        assert len(views) == 4 and all(v.dtype == np.float32 for v in views)
        assert views[cam].shape == (frame + 1, 17, 3)
        np.testing.assert_allclose(views[cam][frame], det[i], rtol=1e-6)
        assert np.isnan(views[cam][:frame]).all()
        assert all(v.shape == (0, 17, 3) for c, v in enumerate(views) if c != cam)
        err = np.linalg.norm(views[cam][frame, :, :2] - gt[i], axis=-1)
        assert err.mean() < 10 and err.max() < 30, (s, a, err)
    assert meta == {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [LEFT, RIGHT],
                    "scores": True, "source": f"mmpose:{DET_NPY.name}"}
    assert (summary.subjects, summary.sequences, summary.empty_views) == (4, 4, 12)
    assert summary.frames == sum(f + 1 for *_, f in SAMPLES) and summary.missing == summary.frames - 4


def test_mmpose_left_and_right_not_swapped(tmp_path):
    positions, _, _ = imported(tmp_path, "mmpose", DET_NPY, ANNOT_NPZ)
    gt = gt_part()
    flip = H36M17.flip_permutation()
    for i, (s, a, cam, frame) in enumerate(SAMPLES):
        xy = positions[s][a][cam][frame, :, :2]
        same = np.linalg.norm(xy[RIGHT] - gt[i, RIGHT], axis=-1)
        other = np.linalg.norm(xy[RIGHT] - gt[i, LEFT], axis=-1)
        assert (same < other).all(), (s, same, other)
        assert np.linalg.norm(xy - gt[i], axis=-1).sum() < np.linalg.norm(xy - gt[i, flip], axis=-1).sum()


def test_mmpose_json_keeps_the_best_instance_per_image(tmp_path):
    det = np.load(DET_NPY)
    with np.load(ANNOT_NPZ) as data:
        names = [str(n) for n in data["imgname"]]
    keys = ["img_path", "image_name", "imgname", "img_path"]
    results = [{keys[i]: f"/data/h36m/images/{n}", "keypoints": det[i, :, :2].tolist(),
                "keypoint_scores": (det[i, :, 2] * 0.9).tolist()} for i, n in enumerate(names)]
    decoy = {"img_path": names[0], "keypoints": (det[0, :, :2] + 100).tolist(), "keypoint_scores": [0.5] * 17}
    results.insert(0, decoy)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    positions, meta, _ = imported(tmp_path, "mmpose", path)
    for i, (s, a, cam, frame) in enumerate(SAMPLES):
        np.testing.assert_allclose(positions[s][a][cam][frame, :, :2], det[i, :, :2], rtol=1e-6)
        np.testing.assert_allclose(positions[s][a][cam][frame, :, 2], det[i, :, 2] * 0.9, rtol=1e-6)
    assert meta["source"] == "mmpose:results.json"


@pytest.mark.parametrize("name, slot", [
    ("S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg", Slot("S1", "Directions 1", 0, 0)),
    ("S1_TakingPhoto_1.60457274_000010.png", Slot("S1", "Photo 1", 3, 9)),
    ("S1_WalkingDog.58860488_000002.jpg", Slot("S1", "WalkDog", 2, 1)),
    ("S8_WalkDog_1.55011271_000026.jpg", Slot("S8", "WalkDog 1", 1, 25)),
])
def test_image_names(name, slot):
    assert parse_image_name(name) == slot


@pytest.mark.parametrize("name", [
    "S1_Directions_1_000001.jpg",  # no camera
    "S1_Directions_1.12345678_000001.jpg",  # unknown camera
    "S1_Directions_7.54138969_000001.jpg",  # S1 has no 'Directions 7'
    "S1__ALL.54138969_000001.jpg",  # not an action
    "S1_Directions_1.54138969_000000.jpg",  # frames are 1-based
    "S12_Directions_1.54138969_000001.jpg",
])
def test_bad_image_names(name):
    with pytest.raises(ValueError):
        parse_image_name(name)


# --- COCO ----------------------------------------------------------------------------------


def coco_keypoints(h36m_xy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A COCO-17 detection made from Human3.6M-17 positions; eyes and ears made up near the Head."""
    kp = np.zeros((17, 3))
    for coco, h36m in COCO_FROM_H36M.items():
        kp[coco, :2] = h36m_xy[h36m]
    head = h36m_xy[10]
    kp[1:5, :2] = head + np.array([[8.0, 12.0], [-8.0, 12.0], [16.0, 15.0], [-16.0, 15.0]])
    kp[:, 2] = scores
    return kp


def test_coco_results_are_mapped_to_h36m(tmp_path):
    gt = gt_part()
    images = {im["file_name"]: im["id"] for im in json.loads(COCO_ANNOT.read_text())["images"]}
    with np.load(ANNOT_NPZ) as data:
        ids = [images[Path(str(n)).name] for n in data["imgname"]]
    scores = np.random.default_rng(0).permutation(17) * 0.05 + 0.1  # distinct, unordered: minima are telling
    kps = [coco_keypoints(gt[i], scores) for i in range(4)]
    results = [{"image_id": ids[i], "category_id": 1, "keypoints": kps[i].ravel().tolist(), "score": 0.9}
               for i in range(4)]
    decoy = coco_keypoints(gt[2] + 50, scores)
    # after the real one here, before it in the mmpose test: the score decides, not the order
    results.append({"image_id": ids[2], "category_id": 1, "keypoints": decoy.ravel().tolist(), "score": 0.3})
    path = tmp_path / "coco_results.json"
    path.write_text(json.dumps(results))
    positions, meta, _ = imported(tmp_path, "coco", path, COCO_ANNOT)
    copied = sorted(COCO_FROM_H36M.values())
    for i, (s, a, cam, frame) in enumerate(SAMPLES):
        out = positions[s][a][cam][frame]
        np.testing.assert_array_equal(out[copied, :2], gt[i, copied].astype(np.float32))
        np.testing.assert_array_equal(out[0, :2], ((gt[i, 1] + gt[i, 4]) / 2).astype(np.float32))
        np.testing.assert_array_equal(out[8, :2], ((gt[i, 11] + gt[i, 14]) / 2).astype(np.float32))
        np.testing.assert_allclose(out[7, :2], (out[0, :2] + out[8, :2]) / 2, atol=1e-3)
        ears = kps[i][3:5, :2].mean(axis=0)
        np.testing.assert_allclose(out[10, :2], ears + HEAD_PUSH * (ears - out[8, :2]), atol=1e-3)
        assert out[10, 1] < ears[1]  # above the ears (image y points down)
        # right hip, knee, foot, shoulder, elbow, wrist come from COCO's r_* joints
        np.testing.assert_array_equal(out[RIGHT, 2], scores[[12, 14, 16, 6, 8, 10]].astype(np.float32))
        np.testing.assert_array_equal(out[LEFT, 2], scores[[11, 13, 15, 5, 7, 9]].astype(np.float32))
        for joint, sources in {0: [11, 12], 7: [11, 12, 5, 6], 8: [5, 6], 10: [3, 4, 5, 6]}.items():
            assert out[joint, 2] == np.float32(scores[sources].min()), joint
    assert meta["source"] == "coco:coco_results.json"


@pytest.mark.parametrize("joint, sources", [(0, {11, 12}), (7, {5, 6, 11, 12}), (8, {5, 6}), (10, {3, 4, 5, 6})])
def test_coco_synthesised_score_is_the_minimum_of_its_sources(joint, sources):
    for weak in range(17):
        kp = np.ones((17, 3))
        kp[weak, 2] = 0.25
        expected = 0.25 if weak in sources else 1.0
        assert coco_to_h36m(kp)[joint, 2] == expected, (joint, weak)


def test_coco_unknown_image_id(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"image_id": 99, "keypoints": [0.0] * 51, "score": 1.0}]))
    with pytest.raises(DetectionsError, match=r"r\.json.*image_id 99"):
        read_detections("coco", path, COCO_ANNOT)


# --- CSV -----------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[tuple], scores: bool) -> None:
    header = ["subject", "action", "camera", "frame"]
    for j in JOINT_NAMES_17:
        header += [f"{j}_x", f"{j}_y"] + ([f"{j}_score"] if scores else [])
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for s, a, cam, frame, base in rows:
            values = []
            for j in range(17):
                values += [base + j, base + 100 + j] + ([0.01 * j] if scores else [])
            w.writerow([s, a, cam, frame, *values])


def test_csv_without_scores(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(path, [("S1", "TakingPhoto 1", "55011271", 0, 10.0), ("S1", "Photo 1", "1", 2, 20.0),
                     ("S5", "Eating", "3", 1, 30.0)], scores=False)
    positions, meta, summary = imported(tmp_path, "csv", path)
    views = positions["S1"]["Photo 1"]
    assert [v.shape[0] for v in views] == [0, 3, 0, 0]
    np.testing.assert_array_equal(views[1][0, :, 0], 10.0 + np.arange(17))
    np.testing.assert_array_equal(views[1][2, :, 1], 120.0 + np.arange(17))
    assert np.isnan(views[1][1]).all()
    assert (views[1][[0, 2], :, 2] == 1.0).all()
    assert positions["S5"]["Eating"][3].shape == (2, 17, 3)
    assert (summary.frames, summary.missing) == (5, 2)
    assert meta["source"] == "csv:d.csv"


def test_csv_with_scores(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(path, [("S9", "Waiting 1", "0", 0, 5.0)], scores=True)
    positions, _, _ = imported(tmp_path, "csv", path)
    np.testing.assert_allclose(positions["S9"]["Waiting 1"][0][0, :, 2], 0.01 * np.arange(17), rtol=1e-6)


@pytest.mark.parametrize("edit, problem", [
    (lambda h, r: (h[:-1], [x[:-1] for x in r]), "only"),  # RWrist_score dropped: partial scores
    (lambda h, r: (h + ["note"], [x + ["?"] for x in r]), "unknown column note"),
    (lambda h, r: ([c for c in h if c != "LKnee_y"], [x[:h.index("LKnee_y")] + x[h.index("LKnee_y") + 1:]
                                                      for x in r]), "lacks LKnee_y"),
    (lambda h, r: (h, [r[0][:2] + ["7"] + r[0][3:]]), "line 2: camera '7'"),
    (lambda h, r: (h, [r[0][:3] + ["-1"] + r[0][4:]]), "line 2: frame '-1'"),
    (lambda h, r: (h, [["S1", "Sitting"] + r[0][2:]]), "line 2: S1 has no sequence 'Sitting'"),
])
def test_csv_bad_input(tmp_path, edit, problem):
    path = tmp_path / "d.csv"
    write_csv(path, [("S1", "Photo 1", "0", 0, 1.0)], scores=True)
    header, *rows = list(csv.reader(path.open(newline="")))
    header, rows = edit(header, rows)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    with pytest.raises(DetectionsError, match=rf"^{path}: .*{problem}"):
        read_detections("csv", path)


def test_csv_duplicate_slot(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(path, [("S1", "Photo 1", "0", 0, 1.0), ("S1", "TakingPhoto 1", "54138969", 0, 2.0)], scores=False)
    dets = read_detections("csv", path)
    with pytest.raises(DetectionsError, match=r"d\.csv.*S1/Photo 1/camera 0/frame 0"):
        assemble(dets)


# --- lengths from the mocap ----------------------------------------------------------------


def write_poses(path: Path, lengths: dict[str, dict[str, int]]) -> Path:
    box = np.empty((), dtype=object)
    box[()] = {s: {a: np.zeros((n, 32, 3), np.float32) for a, n in acts.items()} for s, acts in lengths.items()}
    np.savez(path, positions_3d=box)
    return path


def test_poses_set_sequence_lengths(tmp_path):
    path = tmp_path / "d.csv"
    write_csv(path, [("S1", "Photo 1", "0", 0, 1.0), ("S1", "Photo 1", "0", 12, 1.0), ("S1", "Photo 1", "2", 3, 1.0),
                     ("S5", "Eating", "0", 4, 1.0)], scores=False)
    poses = write_poses(tmp_path / "data_3d_h36m.npz", {"S1": {"Photo 1": 10}})
    positions, _, summary = imported(tmp_path, "csv", path, poses=poses)
    assert [v.shape[0] for v in positions["S1"]["Photo 1"]] == [10, 0, 10, 0]
    assert positions["S5"]["Eating"][0].shape[0] == 5  # not in the mocap: last frame + 1
    assert summary.dropped == 1  # frame 12 is past the 10 mocap frames
    assert (summary.frames, summary.missing) == (25, 22)
    no_poses, _, _ = imported(tmp_path, "csv", path)
    assert no_poses["S1"]["Photo 1"][0].shape[0] == 13


# --- the command line ----------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", POSE3D_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pose3d.detections", "import", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_writes_the_file(tmp_path):
    proc = cli("--format", "mmpose", str(DET_NPY), "--annotations", str(ANNOT_NPZ), "--name", "mm",
               "--out-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "data_2d_h36m_mm.npz"
    assert out.is_file() and str(out) in proc.stdout
    assert "4 subjects, 4 sequences" in proc.stdout and "2480 frames missing" in proc.stdout
    positions, _ = load_2d(out)
    np.testing.assert_allclose(positions["S7"]["Greeting"][1][395], np.load(DET_NPY)[2], rtol=1e-6)


def _bad_name(tmp_path: Path) -> tuple[list[str], Path]:
    annot = tmp_path / "annot.npz"
    np.savez(annot, imgname=np.array(["S1/S1_Directions_1.54138969_000001.jpg", "S1_Directions_1_000002.jpg"]))
    npy = tmp_path / "det.npy"
    np.save(npy, np.zeros((2, 17, 3)))
    return ["--format", "mmpose", str(npy), "--annotations", str(annot)], annot


def _wrong_shape(tmp_path: Path) -> tuple[list[str], Path]:
    npy = tmp_path / "det.npy"
    np.save(npy, np.zeros((4, 17, 2)))
    return ["--format", "mmpose", str(npy), "--annotations", str(ANNOT_NPZ)], npy


def _missing_annotations(tmp_path: Path) -> tuple[list[str], Path]:
    missing = tmp_path / "nowhere.npz"
    return ["--format", "mmpose", str(DET_NPY), "--annotations", str(missing)], missing


def _unknown_format(tmp_path: Path) -> tuple[list[str], Path]:
    return ["--format", "openpose", str(DET_NPY)], DET_NPY


@pytest.mark.parametrize("case", [_unknown_format, _bad_name, _wrong_shape, _missing_annotations])
def test_cli_bad_input(tmp_path, case):
    args, named = case(tmp_path)
    out_dir = tmp_path / "out"
    proc = cli(*args, "--name", "bad", "--out-dir", str(out_dir))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(named) in lines[0], proc.stderr
    assert not out_dir.exists() or not any(out_dir.iterdir())
