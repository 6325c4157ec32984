"""The mmpose export against mmpose's own Human3.6M fixture (tests/fixtures/mmpose-h36m).

The fixture's ``test_h36m_body3d.npz`` holds four real rows that mmpose's converter wrote
from the official files. A miniature official tree is built from them: for each of S1, S5,
S7 and S8, every one of the 30 ``D3_Positions/<Seq>.cdf`` holds the subject's fixture pose
(``S`` moved to the world with our cameras, metres -> mm; the 15 joints outside the 17
copy their parent). Every ``D2_Positions/<Seq>.<camera>.cdf`` is our projection of that pose,
except the fixture's own view, whose 17 joints are the fixture's ``part`` (the real
``D2_Positions``). ``convert`` checks each D2 file against the projection to 0.05 px, so
it passing shows that our cameras reproduce the real 2D.

Frame counts: every sequence has one frame, except that the fixture's own sequence has
(fixture frame + 1) frames repeating the same pose. So the fixture's row sits at its real
0-based frame (0, 2060, 395, 25, all multiples of the sample rate 5), and its ``imgname``
carries the real 1-based frame number. A ``synthetic_manifest.json`` declares these counts
in place of the official table's.

Then ``convert`` runs and ``pose3d.export.mmpose.export`` writes the files (no frames, so
no images). The four rows are compared field by field with the fixture.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from pose3d.export import mmpose
from pose3d.export.common import ExportSettings, Inputs
from pose3d.geometry.projection import camera_to_world, project_world
from pose3d.h36m.cameras import CAMERA_IDS, get_camera, subject_cameras
from pose3d.h36m.cdf_io import write_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.skeleton import H36M17_FROM_32, PARENTS_32
from pose3d.synth.manifest import write_manifest
from tests.helpers import run_stage, write_params

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"
#: the fixture's rows: subject, sequence file, camera, 0-based frame (tests/fixtures README)
SAMPLES = (
    ("S1", "Directions 1", "54138969", 0),
    ("S5", "SittingDown", "54138969", 2060),
    ("S7", "Greeting", "55011271", 395),
    ("S8", "WalkDog 1", "55011271", 25),
)
TRAIN, TEST = ("S1", "S5", "S7"), ("S8",)


def load_fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "test_h36m_body3d.npz") as f:
        return {k: f[k] for k in f.files}


def world_32(s_cam_m: np.ndarray, subject: str, camera: str) -> np.ndarray:
    """(32, 3) world mm: the fixture's camera-frame 17 joints moved to the world, the other 15 on their parent."""
    world17 = camera_to_world(s_cam_m.astype(np.float64) * 1e3, get_camera(subject, camera))
    out = np.full((32, 3), np.nan)
    out[list(H36M17_FROM_32)] = world17
    for j, parent in enumerate(PARENTS_32):  # parents come first
        if np.isnan(out[j]).any():
            out[j] = out[parent]
    return out


def build_tree(root: Path, fixture: dict[str, np.ndarray]) -> None:
    frames: dict[str, dict[str, int]] = {}
    for i, (subject, file_base, camera, frame) in enumerate(SAMPLES):
        world = world_32(fixture["S"][i, :, :3], subject, camera)
        frames[subject] = {}
        for seq in subject_sequences(subject):
            n = frame + 1 if seq.file_base == file_base else 1
            frames[subject][seq.file_base] = n
            write_pose(pose_path(root, subject, "D3_Positions", seq), np.repeat(world[None], n, axis=0))
            for cam in subject_cameras(subject):
                uv = project_world(world, cam)
                if seq.file_base == file_base and cam.camera_id == camera:
                    uv[list(H36M17_FROM_32)] = fixture["part"][i, :, :2]  # the real D2_Positions
                write_pose(pose_path(root, subject, "D2_Positions", seq, cam.camera_id), np.repeat(uv[None], n, axis=0))
    write_manifest(root, "mmpose-fixture", 0, frames)


@pytest.fixture(scope="module")
def exported_fixture(tmp_path_factory):
    fixture = load_fixture()
    ws = tmp_path_factory.mktemp("mmpose_fixture")
    raw = ws / "raw"
    build_tree(raw, fixture)
    subjects = [s for s, *_ in SAMPLES]
    write_params(ws, dataset={"raw_dir": str(raw), "subjects": subjects, "train_subjects": list(TRAIN),
                              "test_subjects": list(TEST)}, convert={"workers": 1})
    proc = run_stage("convert", ws)
    assert proc.returncode == 0, proc.stderr
    inputs = Inputs(ws / "data/processed/poses", ws / "data/processed/frames", ws / "data/processed/priors")
    out = ws / "export" / "mmpose"
    summary = mmpose.export(inputs, out, ExportSettings(train_subjects=TRAIN, test_subjects=TEST))
    return fixture, out, summary


def rows_of(out: Path) -> dict[str, dict[str, np.ndarray]]:
    """imgname -> that row's fields, over both splits."""
    rows = {}
    for split in ("train", "test"):
        with np.load(out / "annotation_body3d" / "fps10" / f"h36m_{split}.npz") as f:
            a = {k: f[k] for k in f.files}
        for i, name in enumerate(a["imgname"]):
            rows[str(name)] = {k: a[k][i] for k in a}
    return rows


def test_fixture_rows_are_reproduced(exported_fixture):
    fixture, out, summary = exported_fixture
    rows = rows_of(out)
    assert summary["images"] == 0 and not (out / "images").exists()
    # 29 one-frame sequences x 4 cameras per subject, plus 4 x ceil((frame + 1) / 5) rows of the fixture's sequence
    assert summary["rows"] == {"train": (116 + 4 * 1) + (116 + 4 * 413) + (116 + 4 * 80), "test": 116 + 4 * 6}
    worst = {k: 0.0 for k in ("part", "S", "center", "scale")}
    for i, name in enumerate(fixture["imgname"]):
        assert str(name) in rows, name
        row = rows[str(name)]
        assert row["imgname"] == name
        for k, tol in (("part", 1e-3), ("S", 1e-6), ("center", 1e-3), ("scale", 1e-3)):
            assert row[k].shape == fixture[k][i].shape and row[k].dtype == fixture[k].dtype
            diff = float(np.abs(row[k] - fixture[k][i]).max())
            worst[k] = max(worst[k], diff)
            assert diff <= tol, f"{name} {k}: {diff:.3g} > {tol}"
    print("max differences against the fixture:", {k: f"{v:.3g}" for k, v in worst.items()})


def test_fixture_rows_land_in_the_right_split_and_place(exported_fixture):
    fixture, out, _ = exported_fixture
    for split, subjects in (("train", TRAIN), ("test", TEST)):
        with np.load(out / "annotation_body3d" / "fps10" / f"h36m_{split}.npz") as f:
            names = f["imgname"].tolist()
        assert {n.split("/")[0] for n in names} == set(subjects)
        for i, (subject, file_base, camera, frame) in enumerate(SAMPLES):
            if subject in subjects:
                assert fixture["imgname"][i] in names
                # the fixture's sequence view holds every 5th frame, 1-based names 1, 6, ..., frame + 1
                base = mmpose.sequence_base(subject, file_base, camera)
                view = [n for n in names if n.startswith(f"{subject}/{base}/")]
                assert view == [f"{subject}/{base}/{base}_{f + 1:06d}.jpg" for f in range(0, frame + 1, 5)]


def test_cameras_pkl_matches_the_fixture_for_the_four_subjects(exported_fixture):
    _, out, _ = exported_fixture
    with open(out / "annotation_body3d" / "cameras.pkl", "rb") as f:
        ours = pickle.load(f)
    with open(FIXTURE / "cameras.pkl", "rb") as f:
        ref = pickle.load(f)
    assert set(ours) == {(s, c) for s, *_ in SAMPLES for c in CAMERA_IDS}
    for key, cam in ours.items():
        assert list(cam) == list(ref[key])
        for k in ("R", "T"):
            np.testing.assert_allclose(cam[k], ref[key][k], atol=1e-6)
        for k in ("c", "f", "k", "p"):
            np.testing.assert_array_equal(cam[k], ref[key][k])
        assert [cam[k] for k in ("w", "h", "name", "id")] == [ref[key][k] for k in ("w", "h", "name", "id")]
