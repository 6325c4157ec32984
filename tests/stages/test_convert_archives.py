"""convert reads the official .tgz downloads directly, checking their MD5."""
from __future__ import annotations

import hashlib
import shutil
import tarfile

import numpy as np
import pytest

from pose3d.h36m.archives import has_archives, unpack_poses
from pose3d.h36m.cdf_io import PoseFileError
from pose3d.h36m.layout import ARCHIVE_MD5
from tests.helpers import run_stage, write_params

OUT = "data/processed/poses"


@pytest.fixture
def downloads(archive_copy, tmp_path):
    """S1's tiny tree packed as the official archives (prefix 'S1/...' inside, as shipped)."""
    tree = archive_copy()
    folder = tmp_path / "downloads"
    folder.mkdir()
    for feature in ("D3_Positions", "D2_Positions", "D3_Positions_mono"):
        with tarfile.open(folder / f"Poses_{feature}_S1.tgz", "w:gz") as tar:
            tar.add(tree / "S1/MyPoseFeatures" / feature, arcname=f"S1/MyPoseFeatures/{feature}")
    shutil.copy(tree / "synthetic_manifest.json", folder)
    return tree, folder


def test_detects_a_folder_of_archives(downloads):
    tree, folder = downloads
    assert has_archives(folder) and not has_archives(tree)


def test_convert_from_archives_equals_convert_from_tree(downloads, tmp_path):
    tree, folder = downloads
    results = {}
    for name, raw in (("tree", tree), ("tgz", folder)):
        ws = tmp_path / name
        ws.mkdir()
        write_params(ws, dataset={"raw_dir": str(raw), "subjects": ["S1"], "verify_md5": False})
        proc = run_stage("convert", ws)
        assert proc.returncode == 0, proc.stderr
        results[name] = np.load(ws / OUT / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    assert "reading the archives directly" not in run_stage("convert", tmp_path / "tree").stderr
    assert results["tree"].keys() == results["tgz"].keys()
    for key, arr in results["tree"]["S1"].items():
        np.testing.assert_array_equal(arr, results["tgz"]["S1"][key])


def test_md5_mismatch_is_refused(downloads, tmp_path):
    _, folder = downloads
    write_params(tmp_path, dataset={"raw_dir": str(folder), "subjects": ["S1"], "verify_md5": True})
    proc = run_stage("convert", tmp_path)
    assert proc.returncode != 0
    assert "Poses_D3_Positions_S1.tgz" in proc.stderr and ARCHIVE_MD5["S1"][1] in proc.stderr
    assert not (tmp_path / OUT).exists()


def test_md5_is_computed_over_the_whole_file(downloads, tmp_path, monkeypatch):
    _, folder = downloads
    path = folder / "Poses_D2_Positions_S1.tgz"
    real = hashlib.md5(path.read_bytes()).hexdigest()
    table = dict(ARCHIVE_MD5)
    row = list(table["S1"])
    row[0] = real  # pretend this is the official checksum
    table["S1"] = tuple(row)
    monkeypatch.setattr("pose3d.h36m.archives.ARCHIVE_MD5", table)
    unpack_poses(folder, "S1", ["D2_Positions"], tmp_path / "out", verify_md5=True)
    assert len(list((tmp_path / "out/S1/MyPoseFeatures/D2_Positions").glob("*.cdf"))) == 120


def test_truncated_and_missing_archives(downloads, tmp_path):
    _, folder = downloads
    bad = folder / "Poses_D2_Positions_S1.tgz"
    bad.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(PoseFileError, match="not a readable .tgz archive") as err:
        unpack_poses(folder, "S1", ["D2_Positions"], tmp_path / "out", verify_md5=False)
    assert err.value.path == bad
    (folder / "Poses_D3_Positions_S1.tgz").unlink()
    with pytest.raises(PoseFileError, match="archive is missing"):
        unpack_poses(folder, "S1", ["D3_Positions"], tmp_path / "out", verify_md5=False)
