"""replacing(): the new file appears whole on success; on error the old one stays and no temporary is left."""
from __future__ import annotations

import pytest

from pose3d.io.atomic import replacing, write_bytes


def test_success_replaces_the_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "a.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]
