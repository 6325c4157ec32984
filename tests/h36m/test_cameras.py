"""Camera facts against mmpose's real cameras.pkl (all 44 cameras) and the reference numbers."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from pose3d.h36m import cameras as cams

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mmpose-h36m"
ALL_SUBJECTS = [f"S{i}" for i in range(1, 12)]
CAMERA_ORDER = ["54138969", "55011271", "58860488", "60457274"]


@pytest.fixture(scope="module")
def mmpose_cameras() -> dict:
    with open(FIXTURES / "cameras.pkl", "rb") as f:
        data = pickle.load(f)
    assert len(data) == 44
    return data


MM_KEYS = [(s, c) for s in ALL_SUBJECTS for c in CAMERA_ORDER]


# ---------------------------------------------------------------- identity and order
def test_camera_index_order():
    assert list(cams.CAMERA_IDS) == CAMERA_ORDER
    for subject in ("S1", "S9", "S10"):
        for i, cam in enumerate(cams.subject_cameras(subject)):
            assert cam.index == i
            assert cam.camera_id == CAMERA_ORDER[i]
            assert cam.subject == subject


def test_index_and_id_give_the_same_camera():
    for i, cid in enumerate(CAMERA_ORDER):
        a, b, c = cams.get_camera("S5", i), cams.get_camera("S5", cid), cams.get_camera("S5", np.int64(i))
        for other in (b, c):
            assert other.camera_id == a.camera_id
            np.testing.assert_array_equal(other.orientation_wxyz, a.orientation_wxyz)


def test_subject_lists():
    assert list(cams.SUBJECTS_ALL) == ALL_SUBJECTS
    assert list(cams.SUBJECTS_LABELLED) == ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]


@pytest.mark.parametrize("subject", ["S0", "S12", "s1", "1", "", "S01"])
def test_unknown_subject_raises(subject):
    with pytest.raises(ValueError, match="subject"):
        cams.get_camera(subject, "54138969")


@pytest.mark.parametrize("camera", ["12345678", "5413896", "camera1", "", 4, -1, 54138969])
def test_unknown_camera_raises(camera):
    with pytest.raises(ValueError, match="camera"):
        cams.get_camera("S1", camera)


# ---------------------------------------------------------------- every camera against mmpose
@pytest.mark.parametrize("key", MM_KEYS, ids=lambda k: f"{k[0]}-{k[1]}")
def test_camera_matches_mmpose_pickle(key, mmpose_cameras):
    mm = mmpose_cameras[key]
    cam = cams.get_camera(*key)
    assert mm["id"] == cam.camera_id
    assert mm["name"] == f"camera{cam.index + 1}"
    # extrinsics: R is camera->world, T the centre in metres
    np.testing.assert_allclose(cam.r_cam_to_world, mm["R"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(cam.centre_mm, mm["T"][:, 0] * 1000.0, rtol=0, atol=1e-2)
    # intrinsics: the metadata.xml doubles, with p in metadata order
    np.testing.assert_allclose(cam.focal_px, mm["f"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(cam.centre_px, mm["c"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(cam.radial_k123, mm["k"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(cam.tangential_metadata_pApB, mm["p"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(cam.tangential_vp3d_p1p2, mm["p"][::-1, 0], rtol=1e-12)
    assert cam.width_px == mm["w"] == 1000


@pytest.mark.parametrize("key", MM_KEYS, ids=lambda k: f"{k[0]}-{k[1]}")
def test_world_to_camera_agrees_with_mmpose_convention(key, mmpose_cameras):
    """mmpose's SimpleCamera: X_cam = (X - T) @ R with row vectors (metres)."""
    from pose3d.geometry.projection import camera_to_world, world_to_camera

    mm = mmpose_cameras[key]
    cam = cams.get_camera(*key)
    rng = np.random.default_rng(0)
    x_world_m = rng.uniform([-2, -2, 0], [2, 2, 2], size=(10, 3))
    x_cam_mm_expected = (x_world_m - mm["T"][:, 0]) @ mm["R"] * 1000.0
    x_cam_mm = world_to_camera(x_world_m * 1000.0, cam)
    np.testing.assert_allclose(x_cam_mm, x_cam_mm_expected, rtol=0, atol=0.05)
    # the matrices and t the module exposes describe the same transform
    np.testing.assert_allclose(cam.r_world_to_cam @ (x_world_m * 1000.0).T + cam.t_world_to_cam_mm[:, None],
                               x_cam_mm.T, atol=1e-6)
    np.testing.assert_allclose(camera_to_world(x_cam_mm, cam), x_world_m * 1000.0, atol=1e-6)


def test_rotations_are_orthonormal_and_quaternions_unit():
    for s in ALL_SUBJECTS:
        for cam in cams.subject_cameras(s):
            r = cam.r_cam_to_world
            np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
            assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-12)
            assert np.linalg.norm(cam.orientation_wxyz) == pytest.approx(1.0, abs=1e-6)
            np.testing.assert_allclose(cam.r_world_to_cam, r.T)


# ---------------------------------------------------------------- published numbers (VideoPose3D)
def test_extrinsics_equal_videopose3d_values():
    # h36m_data.md §3.3, as listed in VideoPose3D's h36m_dataset.py
    expected = {
        ("S1", "54138969"): ([0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088],
                             [1841.1070556640625, 4955.28466796875, 1563.4454345703125]),
        ("S7", "58860488"): ([0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278],
                             [-1741.8111572265625, 5208.24951171875, 1464.8245849609375]),
        ("S11", "60457274"): ([0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809],
                              [-1590.738037109375, -3854.1689453125, 1578.017578125]),
    }
    for key, (q, t) in expected.items():
        cam = cams.get_camera(*key)
        np.testing.assert_allclose(cam.orientation_wxyz, q, atol=1e-6)
        np.testing.assert_allclose(cam.centre_mm, t, atol=1e-3)
    # derived for S10 from metadata w0 (h36m_data.md §3.3)
    cam = cams.get_camera("S10", "60457274")
    np.testing.assert_allclose(cam.orientation_wxyz, [0.595268, -0.783838, 0.110837, -0.137727], atol=1e-6)
    np.testing.assert_allclose(cam.centre_mm, [-1459.1511, -3879.8092, 1551.1005], atol=1e-3)


def test_intrinsics_equal_videopose3d_float32_values():
    # VideoPose3D's intrinsics are float32 copies; its tangential pair is (p1, p2) = (pB, pA).
    vp3d = {
        "54138969": ([1145.0494384765625, 1143.7811279296875], [512.54150390625, 515.4514770507812],
                     [-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043],
                     [-0.0009756988729350269, -0.00142447161488235]),
        "58860488": ([1149.1407470703125, 1148.7989501953125], [519.8158569335938, 501.40264892578125],
                     [-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427],
                     [0.0014843869721516967, -0.0007599993259645998]),
    }
    for cid, (f, c, k, p) in vp3d.items():
        for subject in ("S1", "S9"):
            cam = cams.get_camera(subject, cid)
            np.testing.assert_allclose(cam.focal_px, f, rtol=1e-7)
            np.testing.assert_allclose(cam.centre_px, c, rtol=1e-7)
            np.testing.assert_allclose(cam.radial_k123, k, rtol=1e-6)
            np.testing.assert_allclose(cam.tangential_vp3d_p1p2, p, rtol=1e-6)
            vec = cam.intrinsic_vector
            assert vec.shape == (9,)
            np.testing.assert_allclose(vec, np.concatenate([f, c, k, p]), rtol=1e-6)
            K = cam.K
            np.testing.assert_allclose(K, [[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1]], rtol=1e-7)


def test_intrinsics_are_shared_by_all_subjects():
    for i in range(4):
        ref = cams.get_camera("S1", i)
        for s in ALL_SUBJECTS:
            cam = cams.get_camera(s, i)
            np.testing.assert_array_equal(cam.intrinsic_vector, ref.intrinsic_vector)


def test_tangential_property_returns_a_copy():
    cam = cams.get_camera("S1", 0)
    p = cam.tangential_vp3d_p1p2
    p[:] = 0
    assert np.all(cam.tangential_vp3d_p1p2 != 0)


# ---------------------------------------------------------------- image sizes
@pytest.mark.parametrize("subject", ALL_SUBJECTS)
def test_resolution_per_subject_and_camera(subject):
    expected = [1002, 1002, 1002, 1002] if subject in ("S4", "S7", "S10") else [1002, 1000, 1000, 1002]
    got = [cams.get_camera(subject, c).height_px for c in CAMERA_ORDER]
    assert got == expected
    assert all(cams.get_camera(subject, c).width_px == 1000 for c in CAMERA_ORDER)


def test_mmpose_hardcodes_the_first_resolution_row(mmpose_cameras):
    # mmpose's pickle uses 1002/1000/1000/1002 for every subject: right except S4/S7/S10 cameras 2, 3.
    for (s, c), mm in mmpose_cameras.items():
        ours = cams.get_camera(s, c).height_px
        if s in ("S4", "S7", "S10") and c in ("55011271", "58860488"):
            assert (mm["h"], ours) == (1000, 1002)
        else:
            assert mm["h"] == ours


def test_fixture_image_sizes_agree_with_our_heights():
    coco = json.loads((FIXTURES / "h36m_coco.json").read_text())
    assert len(coco["images"]) == 4
    seen = set()
    for img in coco["images"]:
        m = re.match(r"(S\d+)_.*\.(\d{8})_\d{6}\.jpg$", img["file_name"])
        assert m, img["file_name"]
        subject, camera_id = m.groups()
        cam = cams.get_camera(subject, camera_id)
        assert (img["width"], img["height"]) == (cam.width_px, cam.height_px)
        seen.add((subject, camera_id))
    # includes S7 / 55011271, the view where the hard-coded 1000 would be wrong
    assert ("S7", "55011271") in seen and cams.get_camera("S7", "55011271").height_px == 1002


# ---------------------------------------------------------------- JSON export
def test_cameras_json_round_trips_every_camera():
    data = json.loads(json.dumps(cams.cameras_json()))
    assert data["camera_ids"] == CAMERA_ORDER
    assert list(data["subjects"]) == ALL_SUBJECTS
    for s in ALL_SUBJECTS:
        assert list(data["subjects"][s]) == CAMERA_ORDER
        for c in CAMERA_ORDER:
            entry, cam = data["subjects"][s][c], cams.get_camera(s, c)
            assert entry["subject"] == s and entry["id"] == c and entry["index"] == cam.index
            assert entry["res_w"] == 1000 and entry["res_h"] == cam.height_px
            np.testing.assert_allclose(entry["tangential_vp3d_p1p2"], entry["tangential_metadata_pApB"][::-1])
            np.testing.assert_allclose(entry["r_world_to_cam"], cam.r_cam_to_world.T)
            np.testing.assert_allclose(entry["t_world_to_cam_mm"], -cam.r_cam_to_world.T @ cam.centre_mm)
    subset = cams.cameras_json(("S9",))
    assert list(subset["subjects"]) == ["S9"]


def test_camera_geometry_is_physically_plausible():
    """World z is up; camera y is down (x right, y down, z forward); cameras at 1.4-1.7 m look
    slightly down towards the capture area around the world origin."""
    for s in ALL_SUBJECTS:
        for cam in cams.subject_cameras(s):
            r = cam.r_cam_to_world
            assert r[2, 1] < -0.9  # camera y axis points (almost) straight down in the world
            assert r[2, 2] < 0  # optical axis tilted downwards
            assert 1400 < cam.centre_mm[2] < 1700
            assert np.dot(r[:2, 2], -cam.centre_mm[:2]) > 0  # looking towards the origin
