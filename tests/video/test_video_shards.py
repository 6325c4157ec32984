"""Per-video shards, random access through the index, and the dump command."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from pose3d.video import FrameSettings, FrameShards, extract_subject
from pose3d.video.jpeg import JpegEncoder, decode_jpeg
from pose3d.video.shards import ShardWriter, read_shard_item
from tests.helpers import ROOT, stage_env


def _crops(n: int, size: int = 32) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size]
    return [np.stack([xx * 7 % 256, yy * 5 % 256, np.full_like(xx, 40 * i % 256)], -1).astype(np.uint8) for i in range(n)]


@pytest.mark.parametrize("encoding", ["raw", "jpeg"])
def test_a_shard_is_one_memory_mappable_npy(tmp_path, encoding):
    path = tmp_path / "shards" / "Walking 1.54138969.npy"
    w = ShardWriter(path, encoding, 32, jpeg_qscale=2)
    places = [w.add(c) for c in _crops(5)]
    assert not path.exists()  # appears only when complete
    w.close()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    arr = np.load(path, mmap_mode="r")
    assert isinstance(arr, np.memmap) and arr.dtype == np.uint8
    assert arr.shape == ((5, 32, 32, 3) if encoding == "raw" else (sum(n for _, n in places),))
    for row, (crop, (offset, nbytes)) in enumerate(zip(_crops(5), places)):
        got = read_shard_item(arr, encoding, row, offset, nbytes)
        if encoding == "raw":
            np.testing.assert_array_equal(got, crop)
        else:
            assert bytes(arr[offset:offset + 2]) == b"\xff\xd8" and bytes(arr[offset + nbytes - 2:offset + nbytes]) == b"\xff\xd9"
            assert np.abs(got.astype(int) - crop).mean() < 3


def test_an_aborted_shard_leaves_nothing(tmp_path):
    w = ShardWriter(tmp_path / "a.npy", "raw", 32)
    w.add(_crops(1)[0])
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="crop must be"):
        ShardWriter(tmp_path / "b.npy", "raw", 32).add(np.zeros((16, 16, 3), np.uint8))


def test_jpeg_bytes_are_deterministic_and_readable_elsewhere(tmp_path):
    crop = _crops(3, 64)[2]
    a, b = JpegEncoder(64, 64, 3).encode(crop), JpegEncoder(64, 64, 3).encode(crop)
    assert a == b
    (tmp_path / "x.jpg").write_bytes(a)
    with av.open(str(tmp_path / "x.jpg")) as c:  # FFmpeg's image2 demuxer: a plain JPEG file
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    np.testing.assert_array_equal(img, decode_jpeg(a))
    with pytest.raises(ValueError, match="qscale"):
        JpegEncoder(64, 64, 0)


@pytest.fixture(scope="module")
def two_subjects(small_tree, tmp_path_factory):
    """The small tree extracted twice, as if two subjects: S9 (jpeg) and the same videos as a raw copy."""
    root = tmp_path_factory.mktemp("frames")
    outs = []
    for name, enc in (("S9", "jpeg"), ("S9raw", "raw")):
        (root / name).mkdir()
        extract_subject(small_tree.raw, "S9", small_tree.poses, "test",
                        FrameSettings(test_every_n=8, encoding=enc, crop=256), root / name, workers=1)
        outs.append(root / name)
    return outs


def test_random_access_over_several_folders(two_subjects):
    jpeg_dir, raw_dir = two_subjects
    both = FrameShards([jpeg_dir, raw_dir], max_open=2)
    one = FrameShards(raw_dir)
    n = len(one)
    assert len(both) == 2 * n and n == 4 * 6
    for i in np.random.default_rng(0).permutation(2 * n):  # any order, more shards than open handles
        image, meta = both[int(i)]
        assert image.shape == (256, 256, 3)
        ref = one.image(int(i) % n)
        assert np.abs(image.astype(int) - ref).mean() < (0.01 if i >= n else 2.0)
        assert meta["K"][0, 0] == meta["fx"] and meta["R"].shape == (3, 3) and meta["t_mm"].shape == (3,)
    i = one.find("S9", "Directions 1", "58860488", 16)
    assert one.rows[i]["frame"] == 16 and one.rows[i]["camera"] == "58860488"
    with pytest.raises(KeyError, match="frame 17"):
        one.find("S9", "Directions 1", "58860488", 17)


def _dump(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose3d.video.dump", *args], cwd=ROOT, env=stage_env(),
                          capture_output=True, text=True, timeout=120)


def test_the_dump_command_writes_a_jpeg(two_subjects, small_tree, tmp_path):
    jpeg_dir, raw_dir = two_subjects
    out = tmp_path / "look.jpg"
    proc = _dump(str(raw_dir), "--key", "Directions 1", "--camera", "55011271", "--frame", "24", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Directions 1 camera 55011271 frame 24" in proc.stdout
    data = out.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    with av.open(str(out)) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    shards = FrameShards(raw_dir)
    ref = shards.image(shards.find("S9", "Directions 1", "55011271", 24))
    assert img.shape == ref.shape and np.abs(img.astype(int) - ref).mean() < 2.0


def test_the_dump_command_draws_the_joints(two_subjects, small_tree, tmp_path):
    jpeg_dir, _ = two_subjects
    poses = tmp_path / "data_2d_h36m_gt.npz"
    np.savez(poses, positions_2d=np.array({"S9": small_tree.poses}, dtype=object),
             metadata=np.array({"num_joints": 17}, dtype=object))
    out = tmp_path / "joints.jpg"
    proc = _dump(str(jpeg_dir), "--item", "3", "--poses", str(poses), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    green = (img[..., 1] > 180) & (img[..., 0] < 90) & (img[..., 2] < 90)
    assert green.sum() > 17 * 4  # 17 joint markers on a red body and a grey-blue background
    proc = _dump(str(jpeg_dir), "--item", "999", "-o", str(out))
    assert proc.returncode == 1 and "out of range" in proc.stderr


def test_the_dump_command_writes_a_full_video_frame(small_tree, tmp_path, media):
    video = small_tree.raw / "S9" / "Videos" / "Directions 1.54138969.mp4"
    out = tmp_path / "full.jpg"
    proc = _dump("--video", str(video), "--frame", "7", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert img.shape == (250, 250, 3) and media.read_index_pattern(img) == 7
    proc = _dump("--video", str(video), "--frame", "500", "-o", str(out))
    assert proc.returncode == 1 and "no frame 500 (the video has 41 frames)" in proc.stderr
