"""InplaceNpz: npz files laid out first and filled in place must load exactly like np.savez's."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from pose3d.io import npz_inplace
from pose3d.io.npz_inplace import ArraySpec, InplaceNpz, Slot

METADATA = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}


def specs_3d() -> dict:
    """VideoPose3D-shaped: spaces in keys, a zero-length, a < 64 KB and a > 64 KB array."""
    return {
        "S1": {
            "Directions 1": ArraySpec((700, 32, 3)),  # 269 KB
            "Directions": ArraySpec((0, 32, 3)),
            "Eating 2": ArraySpec((13, 32, 3)),  # 5 KB
        },
        "S11": {"Walking 1": ArraySpec((51, 32, 3)), "Photo": ArraySpec((1, 32, 3))},
        "S5": {"Sitting 1": ArraySpec((257, 32, 3))},
    }


def specs_2d() -> dict:
    return {
        s: {k: [ArraySpec((v.shape[0], 17, 2)) for _ in range(4)] for k, v in seqs.items()}
        for s, seqs in specs_3d().items()
    }


def leaves(tree):
    """Slots (or arrays) in tree order."""
    if isinstance(tree, dict):
        for v in tree.values():
            yield from leaves(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from leaves(v)
    elif isinstance(tree, (Slot, np.ndarray)):
        yield tree


def data_for(index: int, slot: Slot) -> np.ndarray:
    """The same values in any process: seeded by the leaf's index."""
    return np.random.default_rng(index).standard_normal(slot.shape, dtype=np.float32)


def with_data(tree):
    """``tree`` with each Slot replaced by its expected array."""
    counter = iter(range(10**9))

    def walk(t):
        if isinstance(t, dict):
            return {k: walk(v) for k, v in t.items()}
        if isinstance(t, list):
            return [walk(v) for v in t]
        if isinstance(t, Slot):
            return data_for(next(counter), t)
        return t

    return walk(tree)


def fill(job: tuple[int, Slot]) -> int:
    """Write one leaf, alternating the two ways to write (runs in a worker or the parent)."""
    index, slot = job
    data = data_for(index, slot)
    if index % 4 < 2:
        view = slot.open()
        np.multiply(data, np.float32(1), out=view)
        del view
    else:
        slot.write(data)
    return os.getpid()


def fill_everything(npz: InplaceNpz) -> None:
    """Even leaves from a worker process (Slots travel pickled), odd ones from this process."""
    jobs = [job for tree in npz.slots.values() for job in enumerate(leaves(tree))]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pids = pool.map(fill, jobs[::2])
    assert set(pids) and os.getpid() not in pids
    for job in jobs[1::2]:
        fill(job)


def assert_tree_equal(got, expected) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for k in expected:
            assert_tree_equal(got[k], expected[k])
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_tree_equal(g, e)
    elif isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected)
    else:
        assert got == expected


def make_files(folder) -> tuple[InplaceNpz, InplaceNpz]:
    f3 = InplaceNpz.plan(folder / "data_3d_h36m.npz", {"positions_3d": specs_3d()})
    f2 = InplaceNpz.plan(folder / "data_2d_h36m_gt.npz", {"positions_2d": specs_2d(), "metadata": METADATA})
    return f3, f2


def expected_trees(f3: InplaceNpz, f2: InplaceNpz) -> tuple[dict, dict]:
    return with_data(f3.slots["positions_3d"]), with_data(f2.slots["positions_2d"])


def sparse_files_supported(folder) -> bool:
    probe = folder / "probe"
    with open(probe, "wb") as f:
        f.seek(1 << 20)
        f.write(b"x")
    try:
        fd = os.open(probe, os.O_RDONLY)
        try:
            return os.lseek(fd, 0, os.SEEK_HOLE) == 0
        finally:
            os.close(fd)
    except (AttributeError, OSError):
        return False
    finally:
        probe.unlink()


def test_round_trip_through_worker_and_parent(tmp_path, monkeypatch):
    monkeypatch.setattr(npz_inplace, "_CRC_CHUNK", 4099)  # CRCs cross many chunk boundaries
    f3, f2 = make_files(tmp_path)
    assert not f3.path.exists() and f3.partial_path.exists()  # nothing plausible at the final name
    fill_everything(f3)
    fill_everything(f2)
    f3.finalize()
    f2.finalize()
    assert not f3.partial_path.exists() and not f2.partial_path.exists()
    exp3, exp2 = expected_trees(f3, f2)

    with np.load(f3.path, allow_pickle=True) as npz:
        assert npz.files == ["positions_3d"]
        got3 = npz["positions_3d"].item()
    with np.load(f2.path, allow_pickle=True) as npz:
        assert npz.files == ["positions_2d", "metadata"]
        got2 = npz["positions_2d"].item()
        meta = npz["metadata"].item()
    assert_tree_equal(got3, exp3)
    assert_tree_equal(got2, exp2)
    assert meta == METADATA
    assert got3["S1"]["Directions"].shape == (0, 32, 3)
    assert all(a.flags.writeable for a in leaves(got3)) and all(a.flags.writeable for a in leaves(got2))
    got3["S1"]["Directions 1"][0, 0, 0] = 1.0  # writable for real, like np.savez's arrays
    for f in (f3, f2):
        with zipfile.ZipFile(f.path) as zf:
            assert zf.testzip() is None
            assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
            assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        assert_local_headers_match(f.path)
    assert_tree_equal(load_strictly(f2.path, "positions_2d.npy"), exp2)


def assert_local_headers_match(path) -> None:
    """zipfile reads only the central directory; other readers trust the local headers."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
        for info in zf.infolist():
            f.seek(info.header_offset)
            sig, _, flags, method, time, date, crc, csize, usize, nlen, xlen = struct.unpack("<IHHHHHIIIHH", f.read(30))
            assert (sig, flags, method, crc, f.read(nlen).decode()) == (0x04034B50, 0, 0, info.CRC, info.filename)
            assert (time, date) == (0, 0x21)
            if usize == 0xFFFFFFFF:
                assert struct.unpack("<HHQQ", f.read(xlen)) == (1, 16, info.file_size, info.file_size)
            else:
                assert xlen == 0 and csize == usize == info.file_size


def load_strictly(path, member: str):
    """Unpickle with the pure-Python unpickler, which rejects malformed frames the C one lets pass."""
    with zipfile.ZipFile(path) as zf, zf.open(member) as f:
        assert np.lib.format.read_magic(f) == (1, 0)
        assert np.lib.format.read_array_header_1_0(f) == ((), False, np.dtype(object))
        return pickle._Unpickler(f).load().item()


def test_loads_like_np_savez(tmp_path):
    f3, f2 = make_files(tmp_path)
    fill_everything(f3)
    fill_everything(f2)
    f3.finalize()
    f2.finalize()
    exp3, exp2 = expected_trees(f3, f2)
    np.savez(tmp_path / "ref3.npz", positions_3d=exp3)
    np.savez(tmp_path / "ref2.npz", positions_2d=exp2, metadata=METADATA)
    for ours, ref in ((f3.path, tmp_path / "ref3.npz"), (f2.path, tmp_path / "ref2.npz")):
        with np.load(ours, allow_pickle=True) as a, np.load(ref, allow_pickle=True) as b:
            assert a.files == b.files
            for name in b.files:
                assert a[name].shape == b[name].shape == () and a[name].dtype == b[name].dtype
                assert_tree_equal(a[name].item(), b[name].item())


def test_same_tree_and_data_give_identical_bytes(tmp_path):
    def build(folder, shared: bool):
        folder.mkdir()
        # Equal values, but one tree reuses one key object where the other has equal copies:
        # pickle memoizes by identity, so only values may decide the bytes.
        key = " ".join(["Directions", "1"])
        other = key if shared else " ".join(["Directions", "1"])
        spec = ArraySpec((40, 32, 3))
        tree = {"S1": {key: spec, "Eating": spec}, "S9": {other: [spec] * 2}}
        npz = InplaceNpz.plan(folder / "data.npz", {"positions_3d": tree, "metadata": dict(METADATA)})
        fill_everything(npz)
        npz.finalize()
        return (folder / "data.npz").read_bytes()

    assert build(tmp_path / "a", shared=True) == build(tmp_path / "b", shared=False)


def test_crc_catches_a_corrupted_data_byte(tmp_path):
    f3, f2 = make_files(tmp_path)
    fill_everything(f2)
    f2.finalize()
    slot = f2.slots["positions_2d"]["S11"]["Walking 1"][2]
    with open(f2.path, "r+b") as f:
        f.seek(slot.offset + slot.nbytes // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x10]))
    with zipfile.ZipFile(f2.path) as zf:
        assert zf.testzip() == "positions_2d.npy"
    with np.load(f2.path, allow_pickle=True) as npz:
        assert npz["metadata"].item() == METADATA  # the other member is untouched
        with pytest.raises(zipfile.BadZipFile):
            npz["positions_2d"]


def test_leaves_are_64_byte_aligned(tmp_path):
    f3, f2 = make_files(tmp_path)
    for slot in (*leaves(f3.slots), *leaves(f2.slots)):
        if slot.nbytes:
            assert slot.offset % 64 == 0
            view = slot.open()
            assert view.flags.aligned and view.flags.c_contiguous and view.flags.writeable
            assert view.shape == slot.shape and view.dtype == np.float32


def test_slots_pickle_and_open_exactly_their_bytes(tmp_path):
    f3, _ = make_files(tmp_path)
    slot = f3.slots["positions_3d"]["S1"]["Eating 2"]
    assert pickle.loads(pickle.dumps(slot)) == slot

    def around():
        with open(f3.partial_path, "rb") as f:
            f.seek(slot.offset - 16)
            return f.read(slot.nbytes + 32)

    before = around()
    slot.open()[...] = 7
    after = around()
    assert np.frombuffer(after[16:-16], np.float32).tolist() == [7.0] * (13 * 32 * 3)
    assert after[:16] == before[:16] and after[-16:] == before[-16:]  # the pickle opcodes around
    ro = slot.open("r")
    assert not ro.flags.writeable and (ro == 7).all()
    cow = slot.open("c")
    cow[...] = 1
    assert (slot.open("r") == 7).all()  # copy-on-write never reaches the file
    empty = f3.slots["positions_3d"]["S1"]["Directions"]
    assert empty.open().shape == (0, 32, 3)
    empty.write(np.zeros((0, 32, 3), np.float32))


def test_real_arrays_in_the_tree_are_stored_with_their_data(tmp_path):
    given = np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2]  # non-contiguous: pickled in-band
    npz = InplaceNpz.plan(
        tmp_path / "m.npz",
        {"mixed": {"given": given, "planned": ArraySpec((5,), "float64"), "t": (1, "a", None)}},
    )
    npz.slots["mixed"]["planned"].write(np.linspace(0, 1, 5))
    npz.finalize()
    with np.load(npz.path, allow_pickle=True) as f:
        got = f["mixed"].item()
    assert np.array_equal(got["given"], given)
    assert np.array_equal(got["planned"], np.linspace(0, 1, 5))
    assert got["t"] == (1, "a", None)


def test_other_numeric_dtypes_and_unicode_member_names(tmp_path):
    tree = {"b": ArraySpec((3,), "bool"), "i": ArraySpec((2, 2), "int16"), "c": ArraySpec((), "complex128")}
    npz = InplaceNpz.plan(tmp_path / "d.npz", {"posições": tree})
    values = {"b": np.array([True, False, True]), "i": np.array([[1, -2], [3, -4]], np.int16), "c": np.array(1 + 2j)}
    for k, v in values.items():
        npz.slots["posições"][k].write(v)
    npz.finalize()
    with np.load(npz.path, allow_pickle=True) as f:
        assert f.files == ["posições"]
        assert_tree_equal(f["posições"].item(), values)


@pytest.mark.parametrize(
    "dtype, match",
    [(object, "unsupported leaf dtype"), (">f4", "little-endian"), ("U3", "unsupported"),
     ("f4,i4", "unsupported"), ("(3,)f4", "unsupported"), ("nonsense", "not a numpy dtype")],
)
def test_unsupported_dtypes_raise(dtype, match):
    with pytest.raises(ValueError, match=match):
        ArraySpec((2,), dtype)


def test_bad_requests_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="negative"):
        ArraySpec((3, -1))
    with pytest.raises(ValueError, match="tuple of ints"):
        ArraySpec((2.5,))
    with pytest.raises(ValueError, match="plain dicts, lists and tuples"):
        InplaceNpz.plan(tmp_path / "x.npz", {"a": {"s": {ArraySpec((1,))}}})
    assert not list(tmp_path.iterdir())  # a failed plan leaves no partial file behind
    npz = InplaceNpz.plan(tmp_path / "x.npz", {"a": [ArraySpec((4, 3))]})
    slot = npz.slots["a"][0]
    with pytest.raises(ValueError, match="non-contiguous"):
        slot.write(np.zeros((3, 4), np.float32).T)
    with pytest.raises(ValueError, match=r"\(4, 3\) float32"):
        slot.write(np.zeros((4, 3), np.float64))
    with pytest.raises(ValueError, match=r"\(4, 3\) float32"):
        slot.write(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="mode"):
        slot.open("w+")  # would truncate the shared file


def test_finalize_refuses_unwritten_leaves_and_damaged_files(tmp_path):
    if not sparse_files_supported(tmp_path):
        pytest.skip("filesystem has no sparse files: unwritten leaves cannot be told apart")
    f3, f2 = make_files(tmp_path)
    jobs = list(enumerate(leaves(f3.slots)))
    for job in jobs[1:]:  # the first leaf, 269 KB, is never written
        fill(job)
    with pytest.raises(ValueError, match=r"positions_3d\.npy: leaves \[0\]"):
        f3.finalize()
    assert not f3.path.exists()
    fill(jobs[0])
    f3.finalize()
    with pytest.raises(RuntimeError, match="already finalized"):
        f3.finalize()
    os.truncate(f2.partial_path, os.path.getsize(f2.partial_path) - 1)
    with pytest.raises(ValueError, match="truncated or extended"):
        f2.finalize()


def test_zip64_structures_load(tmp_path, monkeypatch):
    """Every size and offset above the limit: ZIP64 extra fields and end records throughout."""
    monkeypatch.setattr(npz_inplace, "ZIP64_LIMIT", 100)
    f3, f2 = make_files(tmp_path)
    fill_everything(f3)
    fill_everything(f2)
    f3.finalize()
    f2.finalize()
    exp3, exp2 = expected_trees(f3, f2)
    with open(f2.path, "rb") as f:
        raw = f.read()
    assert raw.count(b"PK\x06\x06") == 1 and raw.count(b"PK\x06\x07") == 1  # zip64 end records
    with zipfile.ZipFile(f2.path) as zf:
        assert zf.testzip() is None
        assert [i.extract_version for i in zf.infolist()] == [45, 45]
    assert_local_headers_match(f2.path)
    with np.load(f3.path, allow_pickle=True) as a, np.load(f2.path, allow_pickle=True) as b:
        assert_tree_equal(a["positions_3d"].item(), exp3)
        assert_tree_equal(b["positions_2d"].item(), exp2)
        assert b["metadata"].item() == METADATA


@pytest.mark.slow
def test_zip64_for_real_beyond_2_gib(tmp_path):
    """A 2.1 GB sparse member: real 64-bit sizes and offsets, as CPython's zipfile reads them."""
    if not sparse_files_supported(tmp_path):
        pytest.skip("filesystem has no sparse files: this test would write 2.1 GB")
    big = ArraySpec(((1 << 31) // 384 + 10, 32, 3))
    npz = InplaceNpz.plan(tmp_path / "big.npz", {"positions_3d": {"S1": {"Walking 1": big}}, "metadata": METADATA})
    slot = npz.slots["positions_3d"]["S1"]["Walking 1"]
    tail = np.arange(96, dtype=np.float32)
    fd = os.open(slot.path, os.O_WRONLY)
    os.pwrite(fd, tail.tobytes(), slot.offset + slot.nbytes - tail.nbytes)  # the last frame
    os.close(fd)
    npz.finalize(check_written=False)  # the rest stays a hole and reads as zeros
    with zipfile.ZipFile(npz.path) as zf:
        info = zf.getinfo("positions_3d.npy")
        assert info.file_size > (1 << 31) and zf.getinfo("metadata.npy").header_offset > (1 << 31)
        assert zf.testzip() is None  # the CRC covers the tail written above
        data_start = info.header_offset + 30 + len(info.filename) + 20  # 20: the local ZIP64 extra
    with open(npz.path, "rb") as f:
        f.seek(slot.offset + slot.nbytes - tail.nbytes)
        assert np.array_equal(np.frombuffer(f.read(tail.nbytes), np.float32), tail)
        f.seek(data_start)
        assert f.read(6) == b"\x93NUMPY"  # where zipfile's 64-bit header offset points
    with np.load(npz.path, allow_pickle=True) as f:
        assert f["metadata"].item() == METADATA
