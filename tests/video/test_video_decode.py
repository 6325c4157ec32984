"""Frame-exact decoding: video frame i is pose frame i, sub-sampling, the pose cap, and damaged files."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d.video.decode import DecodeReport, VideoError, decode_frames, probe


@pytest.fixture(scope="module")
def clip(tmp_path_factory, media):
    path = media.write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 130)
    return path, media.decode_all(path)


def test_every_nth_frame_is_the_frame_with_that_index(clip, media):
    path, reference = clip
    report = DecodeReport(str(path))
    got = list(decode_frames(path, range(0, 120, 5), 120, report))
    assert [i for i, _ in got] == list(range(0, 120, 5))
    for i, img in got:
        assert media.read_index_pattern(img) == i
        assert np.array_equal(img, reference[i])  # the very pixels a plain decode gives
    assert report.decoded == 120 and report.error == "" and report.declared_frames == 130
    assert (report.width, report.height, report.codec) == (320, 240, "h264")


def test_test_subject_sampling_and_the_pose_cap(clip, media):
    path, _ = clip
    # every 64th frame of 100 poses: frames 0 and 64; frames past the poses are never returned
    got = list(decode_frames(path, np.arange(0, 100, 64), 100))
    assert [media.read_index_pattern(img) for _, img in got] == [0, 64]
    report = DecodeReport(str(path))
    assert [i for i, _ in decode_frames(path, [3, 90, 129], 91, report)] == [3, 90]
    assert report.decoded == 91


def test_a_video_shorter_than_its_poses_says_so(clip):
    path, _ = clip
    report = DecodeReport(str(path))
    got = list(decode_frames(path, range(0, 200, 10), 200, report))
    assert [i for i, _ in got] == list(range(0, 130, 10))
    assert report.decoded == 130 and report.error == ""  # a clean end: the caller sees decoded < stop


def test_an_absent_or_truncated_file_is_a_clear_error(tmp_path, clip):
    path, _ = clip
    with pytest.raises(VideoError, match="absent"):
        decode_frames(tmp_path / "nothing.mp4", [0], 10)
    half = tmp_path / "half.mp4"
    data = path.read_bytes()
    half.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: nothing can be read
    with pytest.raises(VideoError, match="half.mp4: cannot be opened"):
        probe(half)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match="junk.mp4"):
        decode_frames(junk, [0], 10)


def test_a_truncated_streamable_file_is_cut_at_its_last_good_frame(tmp_path, media):
    path = media.write_video(tmp_path / "fast.mp4", 120, faststart=True)  # index first, as for streaming
    reference = media.decode_all(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    report = DecodeReport(str(cut))
    got = list(decode_frames(cut, range(120), 120, report))
    assert 10 < len(got) < 120
    assert report.error and report.decoded == len(got)
    for i, img in got:  # every frame handed out is the true frame i
        assert np.array_equal(img, reference[i])


def test_overwritten_bytes_never_give_a_wrong_frame(tmp_path, media):
    path = media.write_video(tmp_path / "v.mp4", 120, faststart=True)
    reference = media.decode_all(path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    for start in (len(data) // 3, len(data) // 2, 2 * len(data) // 3):
        data[start:start + 200] = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    report = DecodeReport(str(bad))
    got = list(decode_frames(bad, range(120), 120, report))
    assert report.error, "the damage must be reported"
    assert len(got) < 120
    for i, img in got:
        assert np.array_equal(img, reference[i])
