"""learnable-triangulation / ContextPose export, read back the way their dataset class reads it."""
from __future__ import annotations

import pickle
import shutil

import h5py
import numpy as np
import pytest

from pose3d.export import learnable_triangulation as lt
from pose3d.export.common import ExportError, ExportSettings, Inputs
from pose3d.h36m.cameras import get_camera
from pose3d.h36m.sequences import subject_sequences
from pose3d.h36m.skeleton import to_17
from pose3d.io.npz import write_npz
from pose3d.video.extract import FrameSettings
from pose3d.video.jpeg import decode_jpeg

LT17_FROM_17 = (3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13, 9)  # the seeds' joint order, written out here
SEED_TABLE = np.dtype([("subject_idx", np.int8), ("action_idx", np.int8), ("frame_idx", np.int16),
                       ("keypoints", np.float32, (17, 3)), ("bbox_by_camera_tlbr", np.int16, (4, 4))])


@pytest.fixture(scope="module")
def export(exported):
    out, summary = exported("learnable_triangulation")
    labels = np.load(out / "extra/human36m-multiview-labels-GTbboxes.npy", allow_pickle=True).item()
    return out, summary, labels


def _project(cam, points_mm):
    """The labels' camera applied as the seeds' pinhole + the Human3.6M distortion (dist = k1, k2, pA, pB, k3)."""
    x = points_mm.astype(np.float64) @ cam["R"].astype(np.float64).T + cam["t"].astype(np.float64)[:, 0]
    xy = x[:, :2] / x[:, 2:]
    k1, k2, pa, pb, k3 = cam["dist"].astype(np.float64)
    r2 = (xy ** 2).sum(1)
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = pa * xy[:, 1] + pb * xy[:, 0]
    xd = xy * (radial + tan)[:, None] + np.outer(r2, [pb, pa])
    K = cam["K"].astype(np.float64)
    return xd * K[[0, 1], [0, 1]] + K[:2, 2]


def test_labels_dict_and_dtypes(export):
    _, _, labels = export
    assert labels["subject_names"] == ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
    assert labels["camera_names"] == ["54138969", "55011271", "58860488", "60457274"]
    assert len(labels["action_names"]) == 30 and labels["action_names"][:2] == ["Directions-1", "Directions-2"]
    assert labels["action_names"][20] == "TakingPhoto-1" and labels["action_names"][-1] == "WalkingTogether-2"
    assert labels["table"].dtype == SEED_TABLE and labels["table"].ndim == 1
    cams = labels["cameras"]
    assert cams.shape == (7, 4)
    assert cams.dtype["R"] == np.dtype((np.float32, (3, 3))) and cams.dtype["t"] == np.dtype((np.float32, (3, 1)))
    assert cams.dtype["K"] == np.dtype((np.float32, (3, 3))) and cams.dtype["dist"] == np.dtype((np.float32, (5,)))
    cam = get_camera("S9", 2)
    rec = cams[5, 2]
    np.testing.assert_allclose(rec["R"], cam.r_world_to_cam, atol=1e-6)
    np.testing.assert_allclose(rec["t"][:, 0], -cam.r_world_to_cam @ cam.centre_mm, rtol=1e-6)
    np.testing.assert_allclose(rec["dist"], [*cam.radial_k123[:2], *cam.tangential_metadata_pApB, cam.radial_k123[2]],
                               rtol=1e-6)


def test_table_rows_are_the_kept_frames_with_world_mm_keypoints(export, export_inputs):
    out, summary, labels = export
    table = labels["table"]
    subjects = {labels["subject_names"][i] for i in np.unique(table["subject_idx"])}
    assert subjects == {"S1", "S9"}  # the only subjects with videos in the stand-in
    s1 = labels["subject_names"].index("S1")
    walk = labels["action_names"].index("Walking-1")
    rows = table[(table["subject_idx"] == s1) & (table["action_idx"] == walk)]
    assert len(rows) > 0 and (rows["frame_idx"] % 5 == 0).all() and (np.diff(rows["frame_idx"]) > 0).all()
    world = export_inputs.poses_3d["S1"]["Walking 1"][rows["frame_idx"]].astype(np.float64) * 1000
    np.testing.assert_allclose(rows["keypoints"], to_17(world)[:, list(LT17_FROM_17)], atol=1e-3)
    s9 = table[table["subject_idx"] == labels["subject_names"].index("S9")]
    assert len(s9) > 0 and (s9["frame_idx"] % FrameSettings().test_every_n == 0).all()  # params' frames.test_every_n
    assert summary["table_rows"] == len(table)


def test_cameras_project_the_labels_onto_the_exported_images(export, export_inputs):
    out, _, labels = export
    table = labels["table"]
    checked = 0
    for row in table[:: max(1, len(table) // 12)]:
        s = labels["subject_names"][row["subject_idx"]]
        action = labels["action_names"][row["action_idx"]]
        key = next(q.key for q in subject_sequences(s) if q.folder == action)
        for ci, cam_id in enumerate(labels["camera_names"]):
            top, left, bottom, right = row["bbox_by_camera_tlbr"][ci]
            if bottom == top:
                continue
            uv = _project(labels["cameras"][row["subject_idx"], ci], row["keypoints"])
            gt = export_inputs.poses_2d[s][key][ci][row["frame_idx"]][list(LT17_FROM_17)]
            np.testing.assert_allclose(uv, gt, atol=0.02)  # float32 cameras and keypoints
            path = out / "processed" / s / action / "imageSequence" / cam_id / f"img_{row['frame_idx'] + 1:06d}.jpg"
            img = decode_jpeg(path.read_bytes())
            cam = get_camera(s, cam_id)
            assert img.shape == (cam.height_px, cam.width_px, 3)
            assert bottom - top == right - left  # squared
            cy, cx = (top + bottom) // 2, (left + right) // 2
            assert img[cy, cx].max() > 0 and img[:2, :2].max() == 0  # the person's square filled, a corner black
            # the seeds crop this box (scale_bbox 1.0): all of it lies on real pixels, none on the black
            inside = img[max(top + 2, 0):min(bottom - 2, cam.height_px), max(left + 2, 0):min(right - 2, cam.width_px)]
            assert inside.max(axis=2).min() > 0
            checked += 1
    assert checked >= 12


def test_boxes_file_holds_every_pose_frame(export, export_inputs):
    out, _, labels = export
    boxes = np.load(out / "extra/bboxes-Human36M-GT.npy", allow_pickle=True).item()
    arr = boxes["S1"]["Walking-1"]["55011271"]
    assert arr.dtype == np.int32 and arr.shape == (len(export_inputs.poses_3d["S1"]["Walking 1"]), 4)
    table = labels["table"]
    rows = table[(table["subject_idx"] == 0) & (table["action_idx"] == labels["action_names"].index("Walking-1"))]
    for row in rows[:5]:
        assert tuple(row["bbox_by_camera_tlbr"][1]) == lt.square_tlbr(tuple(arr[row["frame_idx"]]))
    assert (arr[1::5] == 0).all()  # frames without a crop


def test_priors_pickles_match_the_table_row_for_row(export, export_inputs):
    out, summary, labels = export
    table = labels["table"]
    for name, subjects in (("train", ["S1", "S5", "S6", "S7", "S8"]), ("val", ["S9", "S11"])):
        with open(out / "results" / f"{name}.pkl", "rb") as f:
            pred = pickle.load(f)
        mask = np.isin(table["subject_idx"], [labels["subject_names"].index(s) for s in subjects])
        kp = pred["keypoints_3d"][np.argsort(pred["indexes"])]  # as the seeds' dataset reads it
        assert kp.shape == (mask.sum(), 17, 3) and kp.dtype == np.float32
        # the pelvis (index 6) of a noisy-2D triangulation is within a few cm of the mocap
        assert np.nanmax(np.linalg.norm(kp[:, 6] - table["keypoints"][mask][:, 6], axis=-1)) < 60
        assert summary[f"{name}_rows"] == mask.sum()
    with h5py.File(out / "extra/mean_and_std_limb_length.h5", "r") as f:
        assert f["mean"].shape == (16,) and f["std"].shape == (16,) and 100 < f["mean"][()].mean() < 600


def _priors_copy(inputs: Inputs, tmp_path, edit) -> Inputs:
    priors = tmp_path / "priors"
    shutil.copytree(inputs.priors_dir, priors)
    with np.load(priors / "pelvis_priors.npz") as data:
        arrays = {k: data[k] for k in data.files}
    edit(arrays)
    write_npz(priors / "pelvis_priors.npz", arrays)
    return Inputs(inputs.poses_dir, inputs.frames_dir, priors)


def test_priors_of_another_split_are_refused_naming_the_sequence(export_inputs, tmp_path):
    def drop_s9(arrays):
        for k in [k for k in arrays if k.startswith("S9/")]:
            del arrays[k]

    with pytest.raises(ExportError, match=r"pelvis_priors.npz: has no priors of S9 Directions-1 \('Directions 1'\)"):
        lt.export(_priors_copy(export_inputs, tmp_path / "a", drop_s9), tmp_path / "out_a", ExportSettings())

    def shorten(arrays):
        for field in ("keypoints_3d", "pelvis", "valid", "inlier_views", "error_mm"):
            arrays[f"S1/Walking 1/{field}"] = arrays[f"S1/Walking 1/{field}"][:-3]

    with pytest.raises(ExportError, match=r"S1 Walking-1 \('Walking 1'\) has \d+ frames of priors but \d+ pose frames"):
        lt.export(_priors_copy(export_inputs, tmp_path / "b", shorten), tmp_path / "out_b", ExportSettings())


def test_repeated_export_gives_the_same_bytes(export_inputs, tmp_path):
    only_s9 = tmp_path / "frames"  # the test subject's few crops: images are written by the same code for all
    shutil.copytree(export_inputs.frames_dir / "S9", only_s9 / "S9")
    inputs = Inputs(export_inputs.poses_dir, only_s9, export_inputs.priors_dir)
    for name in ("a", "b"):
        lt.export(inputs, tmp_path / name, ExportSettings())
    for rel in ("extra/human36m-multiview-labels-GTbboxes.npy", "extra/bboxes-Human36M-GT.npy", "results/val.pkl"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    images = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a/processed/S9").rglob("*.jpg"))
    assert images and all((tmp_path / "a" / i).read_bytes() == (tmp_path / "b" / i).read_bytes() for i in images)
