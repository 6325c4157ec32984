"""The deterministic npz and .mat writers: same arrays, same bytes, and what numpy / scipy read back."""
from __future__ import annotations

import time
import zipfile

import numpy as np
import scipy.io

from pose3d.io.mat import write_mat
from pose3d.io.npz import write_npz


def test_npz_reads_back_as_numpy_saved_it_with_a_fixed_date(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "tree": {"S1": {"Walking": np.ones((2, 17, 2))}},
              "names": np.array(["x", "yy"])}
    write_npz(tmp_path / "one.npz", arrays, compress=True)
    time.sleep(2.1)  # zip dates have a 2-second resolution: np.savez would now write other bytes
    write_npz(tmp_path / "two.npz", arrays, compress=True)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    data = np.load(tmp_path / "one.npz", allow_pickle=True)
    np.testing.assert_array_equal(data["a"], arrays["a"])
    assert data["tree"].item()["S1"]["Walking"].shape == (2, 17, 2)
    assert list(data["names"]) == ["x", "yy"]
    assert not list(tmp_path.glob(".*tmp*"))


def test_mat_has_no_creation_time_and_loads(tmp_path):
    arrays = {"pose3d_world": np.arange(51.0).reshape(1, 17, 3), "R": np.eye(3), "T": np.array([[1.0, 2.0, 3.0]])}
    write_mat(tmp_path / "one.mat", arrays)
    time.sleep(1.1)  # savemat's header records the time to the second
    write_mat(tmp_path / "two.mat", arrays)
    one = (tmp_path / "one.mat").read_bytes()
    assert one == (tmp_path / "two.mat").read_bytes()
    assert b"Created on" not in one[:116] and one.startswith(b"MATLAB 5.0 MAT-file")
    back = scipy.io.loadmat(tmp_path / "one.mat")
    np.testing.assert_array_equal(back["pose3d_world"], arrays["pose3d_world"])
    np.testing.assert_array_equal(back["T"], arrays["T"])
