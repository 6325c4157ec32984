"""Rendered videos and bounding-box .mat files of the synthetic stand-in, read as the seeds read them."""
from __future__ import annotations

import json

import av
import h5py
import numpy as np
import pytest

from pose3d.geometry.projection import project_world
from pose3d.h36m.cameras import CAMERA_IDS, get_camera
from pose3d.h36m.cdf_io import read_pose
from pose3d.h36m.layout import bbox_path, pose_path, video_path
from pose3d.h36m.sequences import lookup
from pose3d.synth.archive import SubjectJob, VideoOptions, video_options, video_plan, write_subject
from pose3d.synth.masks_mat import box_mask, mask_box, read_bbox_mat, write_bbox_mat
from pose3d.synth.motion import generate_sequence
from pose3d.synth.render import BodyRenderer, to_video_pixels, video_size
from pose3d.synth.video_writer import extra_video_frames, probe_video, write_video
from tests.helpers import run_stage, write_params


def _decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _lt_boxes(path) -> np.ndarray:
    """learnable-triangulation's collect-bboxes.py reading of a ground_truth_bb file."""
    with h5py.File(path, "r") as h5file:
        retval = np.empty((len(h5file["Masks"]), 4), dtype=np.int32)
        for frame_idx, mask_reference in enumerate(h5file["Masks"][:, 0]):
            bbox_mask = np.array(h5file[mask_reference])
            h_mask, w_mask = bbox_mask.max(0), bbox_mask.max(1)
            top, bottom = h_mask.argmax(), len(h_mask) - h_mask[::-1].argmax()
            left, right = w_mask.argmax(), len(w_mask) - w_mask[::-1].argmax()
            retval[frame_idx] = top, left, bottom, right
            assert right - left >= 2 and bottom - top >= 2, (path, frame_idx)
    return retval


@pytest.fixture(scope="module")
def s9_walking(tmp_path_factory):
    """S9 'Walking 1' (tiny profile) with videos of two cameras at scale 0.25."""
    root = tmp_path_factory.mktemp("videos")
    job = SubjectJob(str(root), "S9", "tiny", 0, VideoOptions(actions=("Walking 1",), cameras=(0, 2), scale=0.25))
    write_subject(job)
    return root, job


def test_render_frames_lie_in_the_projected_joint_box():
    cam = get_camera("S5", 3)  # 1000 x 1002: a non-square frame at full resolution
    poses = generate_sequence("S5", "Greeting", 1, 30).astype(np.float32)
    for scale in (0.25, 1.0):
        renderer = BodyRenderer(cam, scale)
        w, h = video_size(cam, scale)
        assert (renderer.width, renderer.height) == (w, h) and w % 2 == 0 and h % 2 == 0
        for pose in poses[::10]:
            frame, mask = renderer.render(pose)
            assert frame.shape == (h, w, 3) and frame.dtype == np.uint8 and mask.shape == (h, w)
            uv = to_video_pixels(project_world(pose.astype(np.float64), cam), cam, w, h)
            top, left, bottom, right = mask_box(mask)
            # every joint is covered by the body, and the body reaches at most a limb's
            # radius (plus the head) past the joints
            assert left <= uv[:, 0].min() + 1 and uv[:, 0].max() - 1 <= right
            assert top <= uv[:, 1].min() + 1 and uv[:, 1].max() - 1 <= bottom
            margin = 160 * 1150 * scale / 3000  # mm -> px at the nearest plausible depth
            assert uv[:, 0].min() - margin <= left and right <= uv[:, 0].max() + margin
            assert uv[:, 1].min() - margin <= top and bottom <= uv[:, 1].max() + margin
            # the body is drawn where the mask says, the room elsewhere
            assert (frame[mask] != renderer.view.background[mask]).any(axis=1).mean() > 0.95
            assert mask.sum() > 0.15 * (bottom - top) * (right - left)


def _segment_distance(points: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """(P, K) distance of each point to each capsule axis."""
    ba = pb - pa
    h = np.clip(((points[:, None] - pa) * ba).sum(-1) / np.maximum((ba * ba).sum(-1), 1e-9), 0, 1)
    return np.linalg.norm(points[:, None] - pa - h[..., None] * ba, axis=-1)


@pytest.mark.parametrize("subject,action,cam_index", [("S1", "Directions", 0), ("S8", "SittingDown", 2)])
def test_visible_surface_is_the_nearest(subject, action, cam_index):
    """Brute force over sampled pixels: the z-buffer shows the first surface along each ray."""
    cam = get_camera(subject, cam_index)
    pose = generate_sequence(subject, action, 1, 200)[150]
    pose[:, 2] -= 150.0  # sink the feet into the floor: the floor must hide them
    renderer = BodyRenderer(cam, 0.25)
    depth, owner = renderer.surface(pose)
    pa, pb, radii = renderer.capsules(pose)
    ys, xs = np.nonzero(owner >= 0)
    pick = np.random.default_rng(0).choice(len(ys), size=min(400, len(ys)), replace=False)
    ys, xs = ys[pick], xs[pick]
    rays = renderer.view.rays[ys, xs].astype(np.float64)
    hit = rays * depth[ys, xs, None]
    dist = _segment_distance(hit, pa, pb)
    k = owner[ys, xs]
    # the visible point is on the surface of its capsule and inside no other
    np.testing.assert_allclose(dist[np.arange(len(k)), k], radii[k], atol=0.5)
    assert (dist >= radii - 0.5).all()
    # nothing lies in front of it: samples along the ray are outside every capsule
    for frac in np.linspace(0.05, 0.995, 60):
        assert (_segment_distance(rays * depth[ys, xs, None] * frac, pa, pb) > radii).all()
    # and it is above the floor (world z >= 0)
    hit_world = hit @ cam.r_world_to_cam + cam.centre_mm
    assert hit_world[:, 2].min() > -1.0
    # the room is seen where the body is not
    assert (depth[owner < 0] == renderer.view.room_depth[owner < 0]).all()


def test_video_encodes_and_decodes(tmp_path):
    cam = get_camera("S7", 1)
    renderer = BodyRenderer(cam, 0.25)
    poses = generate_sequence("S7", "Walking", 1, 12)
    frames = [renderer.render(p)[0] for p in poses]
    path = tmp_path / "Walking 1.55011271.mp4"
    assert write_video(path, frames, renderer.width, renderer.height) == 12
    assert probe_video(path) == (12, renderer.width, renderer.height)
    decoded = _decode(path)
    assert len(decoded) == 12
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.pix_fmt == "yuv420p" and stream.average_rate == 50
    for a, b in zip(frames, decoded):  # lossy, but the same images in the same order
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 4
    assert np.abs(frames[0].astype(int) - decoded[-1].astype(int)).mean() > np.abs(
        frames[-1].astype(int) - decoded[-1].astype(int)).mean()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_mat_orientation_as_matlab_writes_it(tmp_path):
    path = tmp_path / "x.mat"
    boxes = np.array([[1, 2, 5, 9], [0, 0, 6, 10]])
    write_bbox_mat(path, boxes, height=6, width=10)
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert f["Masks"].shape == (2, 1) and f["Masks"].attrs["MATLAB_class"] == b"cell"
        first = f[f["Masks"][0, 0]]
        assert first.shape == (10, 6)  # MATLAB's 6 x 10 (H x W), seen transposed
        assert first.attrs["MATLAB_class"] == b"logical" and first.dtype == np.uint8
        np.testing.assert_array_equal(np.asarray(first).T, box_mask((1, 2, 5, 9), 6, 10))
    np.testing.assert_array_equal(_lt_boxes(path), boxes)
    np.testing.assert_array_equal(read_bbox_mat(path), boxes)


def test_subject_videos_and_masks(s9_walking):
    root, job = s9_walking
    seq = lookup("S9", "Walking 1")
    n_pose = read_pose(pose_path(root, "S9", "D3_Positions", seq), 3).shape[0]
    extra = extra_video_frames(0, "S9", "Walking 1")
    assert sorted(p.name for p in (root / "S9/Videos").iterdir()) == [
        "Walking 1.54138969.mp4", "Walking 1.58860488.mp4"]
    assert sorted(p.name for p in (root / "S9/MySegmentsMat/ground_truth_bb").iterdir()) == [
        "Walking 1.54138969.mat", "Walking 1.58860488.mat"]
    assert video_plan(job) == {f"Walking 1.{CAMERA_IDS[i]}": n_pose + extra[i] for i in (0, 2)}
    for i in (0, 2):
        cam = get_camera("S9", i)
        frames = _decode(video_path(root, "S9", seq, cam.camera_id))
        w, h = video_size(cam, 0.25)
        assert len(frames) == n_pose + extra[i] >= n_pose and frames[0].shape == (h, w, 3)
        boxes = _lt_boxes(bbox_path(root, "S9", seq, cam.camera_id))
        assert len(boxes) == len(frames)
        uv = read_pose(pose_path(root, "S9", "D2_Positions", seq, cam.camera_id), 2)
        uv = to_video_pixels(uv, cam, w, h)
        renderer = BodyRenderer(cam, 0.25)
        world = read_pose(pose_path(root, "S9", "D3_Positions", seq), 3)
        for k in range(0, n_pose, 7):
            top, left, bottom, right = boxes[k]
            # the projected joints of the pose file lie inside the box ...
            assert left <= uv[k, :, 0].min() + 1 and uv[k, :, 0].max() - 1 <= right
            assert top <= uv[k, :, 1].min() + 1 and uv[k, :, 1].max() - 1 <= bottom
            # ... which is the tight box of the body drawn in that frame of the video
            frame, mask = renderer.render(world[k])
            assert (top, left, bottom, right) == mask_box(mask)
            assert np.abs(frames[k].astype(int) - frame.astype(int)).mean() < 4
            outside = ~box_mask((top, left, bottom, right), h, w).astype(bool)
            assert not mask[outside].any()


def test_same_seed_same_files(s9_walking, tmp_path):
    root, job = s9_walking
    again = SubjectJob(str(tmp_path / "a"), "S9", "tiny", 0, job.videos)
    other = SubjectJob(str(tmp_path / "b"), "S9", "tiny", 1, job.videos)
    write_subject(again)
    write_subject(other)
    for rel in ("S9/MySegmentsMat/ground_truth_bb/Walking 1.58860488.mat", "S9/Videos/Walking 1.58860488.mp4"):
        assert (root / rel).read_bytes() == (tmp_path / "a" / rel).read_bytes(), rel
    a = read_bbox_mat(root / "S9/MySegmentsMat/ground_truth_bb/Walking 1.58860488.mat")
    b = read_bbox_mat(tmp_path / "b/S9/MySegmentsMat/ground_truth_bb/Walking 1.58860488.mat")
    n = min(len(a), len(b))
    assert not np.array_equal(a[:n], b[:n])


def test_extra_video_frames_follow_the_real_pattern():
    seen = set()
    for k in range(200):
        a, b, b2, a2 = extra_video_frames(0, "S1", f"Seq {k}")
        assert a == a2 and b == b2 and 0 <= a <= b <= 3
        seen.add((a, b))
    assert len(seen) > 2
    assert extra_video_frames(0, "S1", "Directions 1") == extra_video_frames(0, "S1", "Directions 1")


def test_video_options_from_params():
    assert video_options(None, ["S9"]) == {}
    assert video_options({"enabled": False, "subjects": ["S9"]}, ["S9"]) == {}
    opts = video_options({"subjects": ["S9"], "actions": ["Photo"], "cameras": ["58860488", 0]}, ["S1", "S9"])
    assert list(opts) == ["S9"] and opts["S9"].cameras == (0, 2) and opts["S9"].scale == 0.25
    assert opts["S9"].selects(lookup("S9", "Photo 1")) and not opts["S9"].selects(lookup("S9", "Posing"))
    s1 = video_options({"subjects": "all", "actions": ["TakingPhoto"]}, ["S1"])["S1"]
    assert s1.selects(lookup("S1", "TakingPhoto 1")) and not s1.selects(lookup("S1", "Walking"))
    for bad, words in (
        ({"subjects": ["S2"]}, "not in dataset.subjects"),
        ({"subjects": ["S9"], "actions": ["Dancing"]}, "match no sequence"),
        ({"subjects": ["S9"], "scale": 2}, "scale"),
        ({"subjects": ["S9"], "cameras": [4]}, "cameras"),
        ({"subjects": ["S9"], "fps": 25}, "unknown keys"),
        ({"actions": ["Walking"]}, "subjects is required"),
    ):
        with pytest.raises(ValueError, match=words):
            video_options(bad, ["S9"])


def test_stage_writes_videos(tmp_path):
    write_params(tmp_path, dataset={"subjects": ["S9", "S11"]},
                 synthesize={"profile": "tiny", "seed": 0, "workers": 1,
                             "videos": {"subjects": ["S11"], "actions": ["Directions"], "cameras": [1], "scale": 0.25}})
    proc = run_stage("synthesize", tmp_path, "--out", str(tmp_path / "raw"))
    assert proc.returncode == 0, proc.stderr
    raw = tmp_path / "raw"
    manifest = json.loads((raw / "synthetic_manifest.json").read_text())
    counts = manifest["videos"]["video_frames"]
    assert list(counts) == ["S11"] and sorted(counts["S11"]) == ["Directions 1.55011271", "Directions.55011271"]
    assert manifest["videos"]["size_wh"]["S11"]["55011271"] == [250, 250]
    for name, n in counts["S11"].items():
        base = name.rsplit(".", 1)[0]
        assert probe_video(raw / "S11/Videos" / f"{name}.mp4") == (n, 250, 250)
        assert n >= manifest["pose_frames"]["S11"][base]
        assert len(_lt_boxes(raw / "S11/MySegmentsMat/ground_truth_bb" / f"{name}.mat")) == n
    assert not (raw / "S9/Videos").exists() and not list(raw.rglob(".tmp-*"))


def test_stage_rejects_bad_video_params(tmp_path):
    write_params(tmp_path, dataset={"subjects": ["S9"]},
                 synthesize={"profile": "tiny", "videos": {"subjects": ["S9"], "actions": ["Dancing"]}})
    proc = run_stage("synthesize", tmp_path, "--out", str(tmp_path / "raw"))
    assert proc.returncode != 0 and "synthesize.videos.actions ['Dancing']" in proc.stderr
    assert not (tmp_path / "raw").exists()
