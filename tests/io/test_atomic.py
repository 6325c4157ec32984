"""replacing(), Replacement, replacing_dir(): the new output appears whole on success; on error
the old one stays and no temporary is left."""
from __future__ import annotations

import pytest

from pose3d.io.atomic import Replacement, replacing, replacing_dir, write_bytes


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


def test_the_temporary_is_hidden_unique_and_ends_in_the_name(tmp_path):
    """Unique per call (concurrent writers), ending in the target's name (cdflib adds a missing .cdf)."""
    with replacing(tmp_path / "x.cdf") as a, replacing(tmp_path / "x.cdf") as b:
        assert a != b and a.parent == tmp_path
        assert a.name.startswith(".tmp-") and a.name.endswith("-x.cdf")
        assert not a.exists()
        b.write_text("b")
        a.write_text("a")
    assert (tmp_path / "x.cdf").read_text() == "a"  # the last to finish wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["x.cdf"]


def test_a_replacement_commits_or_discards_later(tmp_path):
    target = tmp_path / "shard.npy"
    target.write_bytes(b"old")
    r = Replacement(target)
    with open(r.tmp, "wb") as f:
        f.write(b"half")
    r.discard()
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    r = Replacement(target)
    r.tmp.write_bytes(b"new")
    assert target.read_bytes() == b"old"  # nothing visible before commit
    r.commit()
    r.discard()  # a no-op afterwards
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]


def test_replacing_dir_swaps_the_whole_folder(tmp_path):
    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    with replacing_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.tmp-") and not list(tmp.iterdir())
        (tmp / "new.txt").write_text("new")
        assert (target / "stale.txt").exists()  # the old folder stays until the new one is complete
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replacing_dir_failure_keeps_the_old_folder_and_removes_the_temporary(tmp_path):
    target = tmp_path / "nested" / "out"
    with pytest.raises(RuntimeError):
        with replacing_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("stage failed")
    assert list((tmp_path / "nested").iterdir()) == []  # absent before, absent after
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with replacing_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyboardInterrupt
    assert [p.name for p in (tmp_path / "nested").iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
