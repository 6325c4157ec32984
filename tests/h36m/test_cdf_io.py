"""Reading and writing pose CDF files: round trips, the stored layout, and every error path."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import cdflib
import numpy as np
import pytest
from cdflib.cdfwrite import CDF as CDFWriter

from pose3d.h36m import cdf_io
from pose3d.h36m.cdf_io import PoseFileError, read_pose, write_pose


def random_poses(n: int, dims: int = 3, seed: int = 0, dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 32, dims)) * 1000.0).astype(dtype)


def write_raw_cdf(path: Path, name: str, data: np.ndarray, data_type: int, dim_sizes: list[int]) -> None:
    """A CDF written directly with cdflib, bypassing write_pose."""
    writer = CDFWriter(str(path), {"Majority": "Row_major", "Encoding": 6})
    writer.write_var(
        {"Variable": name, "Data_Type": data_type, "Num_Elements": 1, "Rec_Vary": True,
         "Dim_Sizes": dim_sizes, "Compress": 0},
        var_attrs={},
        var_data=data,
    )
    writer.close()


def assert_names_file(exc_info, path: Path) -> None:
    err = exc_info.value
    assert isinstance(err, PoseFileError) and isinstance(err, ValueError)
    assert str(path) in str(err)
    assert err.path == Path(path)


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("dims", [3, 2])
def test_round_trip_float32_is_exact(tmp_path, dims):
    poses = random_poses(7, dims)
    path = tmp_path / "S1" / "MyPoseFeatures" / "D3_Positions" / "Directions 1.cdf"  # folders are created
    write_pose(path, poses)
    back = read_pose(path, dims, expected_frames=7)
    assert back.dtype == np.float32 and back.shape == (7, 32, dims)
    np.testing.assert_array_equal(back, poses)


def test_stored_layout_is_one_record_of_n_by_96(tmp_path):
    poses = random_poses(5)
    path = tmp_path / "Walking.cdf"
    write_pose(path, poses)
    cdf = cdflib.CDF(str(path))
    assert cdf.cdf_info().zVariables == ["Pose"]
    stored = np.asarray(cdf.varget("Pose"))
    assert stored.shape == (1, 5, 96)
    assert stored.dtype == np.float32
    assert cdf.varinq("Pose").Data_Type_Description == "CDF_FLOAT"
    # values are interleaved per joint: [j0x, j0y, j0z, j1x, ...]
    np.testing.assert_array_equal(stored[0, 2, 3:6], poses[2, 1])
    np.testing.assert_array_equal(stored[0].reshape(-1, 32, 3), poses)  # VideoPose3D's reshape


def test_float64_input_is_stored_as_float32_by_default(tmp_path):
    poses = random_poses(4, dtype=np.float64)
    path = tmp_path / "a.cdf"
    write_pose(path, poses)
    assert cdflib.CDF(str(path)).varinq("Pose").Data_Type_Description == "CDF_FLOAT"
    back = read_pose(path, 3)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, poses.astype(np.float32))


def test_float64_written_reads_back_as_float32(tmp_path):
    poses = random_poses(4, dtype=np.float64) + 0.123456789
    path = tmp_path / "b.cdf"
    write_pose(path, poses, dtype=np.float64)
    cdf = cdflib.CDF(str(path))
    assert cdf.varinq("Pose").Data_Type_Description == "CDF_DOUBLE"
    np.testing.assert_array_equal(np.asarray(cdf.varget("Pose"))[0], poses.reshape(4, 96))  # stored exactly
    back = read_pose(path, 3)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, poses.astype(np.float32))


def test_reads_a_variable_stored_as_n_records(tmp_path):
    """Some writers store one record per frame, giving (N, 96) instead of (1, N, 96)."""
    poses = random_poses(6)
    path = tmp_path / "records.cdf"
    write_raw_cdf(path, "Pose", poses.reshape(6, 96), CDFWriter.CDF_FLOAT, [96])
    assert np.asarray(cdflib.CDF(str(path)).varget("Pose")).shape == (6, 96)
    np.testing.assert_array_equal(read_pose(path, 3, expected_frames=6), poses)


def test_overwrite_replaces_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "x.cdf"
    write_pose(path, random_poses(3, seed=1))
    new = random_poses(5, seed=2)
    write_pose(path, new)
    np.testing.assert_array_equal(read_pose(path, 3), new)
    assert sorted(os.listdir(tmp_path)) == ["x.cdf"]


def test_crash_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.cdf"
    old = random_poses(3, seed=1)
    write_pose(path, old)

    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cdf_io.CDFWriter, "close", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_pose(path, random_poses(5, seed=2))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_pose(path, 3), old)
    assert sorted(os.listdir(tmp_path)) == ["x.cdf"]


def test_write_refuses_a_name_without_cdf(tmp_path):
    """cdflib would add ``.cdf`` to the temporary's name and write beside it."""
    with pytest.raises(ValueError, match=r"x\.bin: a pose file must end in \.cdf"):
        write_pose(tmp_path / "x.bin", random_poses(3))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape", [(5, 17, 3), (5, 96), (32, 3), (5, 32, 3, 1)])
def test_write_rejects_wrong_shapes(tmp_path, shape):
    path = tmp_path / "bad.cdf"
    with pytest.raises(ValueError, match="bad.cdf"):
        write_pose(path, np.zeros(shape, dtype=np.float32))
    assert not path.exists()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- errors
def test_missing_file(tmp_path):
    path = tmp_path / "S1" / "Directions 1.cdf"
    with pytest.raises(PoseFileError, match="missing") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_directory_is_not_a_file(tmp_path):
    path = tmp_path / "Directions.cdf"
    path.mkdir()
    with pytest.raises(PoseFileError) as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_truncated_file(tmp_path):
    good = tmp_path / "good.cdf"
    write_pose(good, random_poses(20))
    data = good.read_bytes()
    path = tmp_path / "Eating 2.cdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PoseFileError) as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


@pytest.mark.parametrize("content", [b"", b"\x00" * 16, None])
def test_not_a_cdf(tmp_path, content):
    path = tmp_path / "Posing.cdf"
    path.write_bytes(np.random.default_rng(3).bytes(4096) if content is None else content)
    with pytest.raises(PoseFileError, match="not a readable CDF") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_variable_named_differently(tmp_path):
    path = tmp_path / "Phoning.cdf"
    write_raw_cdf(path, "Positions", random_poses(4).reshape(1, 4, 96), CDFWriter.CDF_FLOAT, [4, 96])
    with pytest.raises(PoseFileError, match="'Pose'") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)
    assert "Positions" in str(exc_info.value)  # says what the file holds instead


def test_wrong_width(tmp_path):
    path = tmp_path / "Smoking.cdf"
    data = np.zeros((1, 4, 95), dtype=np.float32)
    write_raw_cdf(path, "Pose", data, CDFWriter.CDF_FLOAT, [4, 95])
    assert np.asarray(cdflib.CDF(str(path)).varget("Pose")).shape == (1, 4, 95)
    with pytest.raises(PoseFileError, match="96") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_2d_file_read_as_3d_is_rejected(tmp_path):
    path = tmp_path / "Waiting.54138969.cdf"
    write_pose(path, random_poses(4, dims=2))
    with pytest.raises(PoseFileError, match="96") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)
    path3 = tmp_path / "Waiting.cdf"
    write_pose(path3, random_poses(4, dims=3))
    with pytest.raises(PoseFileError, match="64"):
        read_pose(path3, 2)


def test_integer_variable_is_rejected(tmp_path):
    path = tmp_path / "ints.cdf"
    write_raw_cdf(path, "Pose", np.zeros((1, 4, 96), dtype=np.int32), CDFWriter.CDF_INT4, [4, 96])
    with pytest.raises(PoseFileError, match="floating") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_frame_count_disagrees_with_table(tmp_path):
    path = tmp_path / "Greeting.cdf"
    write_pose(path, random_poses(9))
    with pytest.raises(PoseFileError, match="10") as exc_info:
        read_pose(path, 3, expected_frames=10)
    assert_names_file(exc_info, path)
    assert "9 frames" in str(exc_info.value)
    assert read_pose(path, 3, expected_frames=9).shape == (9, 32, 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path, bad):
    poses = random_poses(4)
    poses[2, 17, 1] = bad
    path = tmp_path / "Sitting 1.cdf"
    write_pose(path, poses)
    with pytest.raises(PoseFileError, match="NaN") as exc_info:
        read_pose(path, 3)
    assert_names_file(exc_info, path)


def test_pose_file_error_survives_pickling(tmp_path):
    """Errors raised in worker processes reach the parent with the file and problem intact."""
    err = PoseFileError(tmp_path / "a.cdf", "file is missing")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is PoseFileError
    assert back.path == err.path and back.problem == err.problem and str(back) == str(err)
