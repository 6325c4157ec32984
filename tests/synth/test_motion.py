"""The synthetic 3D motion: skeleton facts, floor and capture area, continuity, and actions
that differ from each other the way Human3.6M's do."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from pose3d.h36m.skeleton import DUPLICATES_32, H36M16_FROM_32, H36M32, PARENTS_16, PARENTS_32, bone_lengths
from pose3d.synth import bodies
from pose3d.synth.actions import CLIPS_USED, RECIPES
from pose3d.synth.clips import mirror_pose
from pose3d.synth.kinematics import (
    DM_OFFSETS_M, DM_PARENTS, global_rotations, h36m_positions, dm_positions, matrix_to_quat,
    quat_about, quat_from_axis_angle, quat_mul, quat_rotate, quat_slerp, quat_to_matrix,
    quat_yaw, two_bone_ik,
)
from pose3d.synth.motion import ACTIONS, generate_sequence
from pose3d.synth.motion_library import CLIPS, LIBRARY_PATH, load_library, main, sample_clip
from pose3d.synth.paths import AREA_X_MM, AREA_Y_MM

N = 1500
FPS = 50.0
#: The DeepMimic clips the library was built from (present on the development machines).
SOURCE = Path("/work/shared/motion/deepmimic")


@functools.lru_cache(maxsize=None)
def seq(subject: str, action: str, subaction: int = 1, n: int = N, seed: int = 0) -> np.ndarray:
    out = generate_sequence(subject, action, subaction, n, seed=seed)
    out.setflags(write=False)
    return out


def root_speed(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(x[:, 0, :2], axis=0), axis=1) * FPS


def hand_at_head(x: np.ndarray, mm: float = 200.0) -> np.ndarray:
    """Frames where a wrist is within ``mm`` of the head (joint 14)."""
    d = np.linalg.norm(x[:, [19, 27]] - x[:, None, 14], axis=-1)
    return d.min(axis=1) < mm


# --------------------------------------------------------------------------- API


def test_actions_are_the_fifteen_official_groups():
    assert ACTIONS == ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                       "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog",
                       "Walking", "WalkTogether")
    assert set(RECIPES) == set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_shape_dtype_finite(action):
    x = seq("S1", action)
    assert x.shape == (N, 32, 3) and x.dtype == np.float64
    assert np.isfinite(x).all()


@pytest.mark.parametrize("n", [1, 2, 31, 77])
def test_any_length(n):
    x = generate_sequence("S9", "Greeting", 2, n)
    assert x.shape == (n, 32, 3)
    # a short sequence is the start of a longer one
    np.testing.assert_array_equal(x, seq("S9", "Greeting", 2, N)[:n])


@pytest.mark.parametrize("kwargs, word", [
    (dict(subject="S12"), "subject"), (dict(subject="s1"), "subject"),
    (dict(action="TakingPhoto"), "action"), (dict(action="Walk"), "action"),
    (dict(n_frames=0), "n_frames"), (dict(n_frames=-5), "n_frames"), (dict(n_frames=2.5), "n_frames"),
    (dict(subaction=0), "subaction"), (dict(seed=-1), "seed"),
])
def test_bad_arguments_raise(kwargs, word):
    args = dict(subject="S1", action="Walking", subaction=1, n_frames=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=word):
        generate_sequence(**args)


def test_deterministic_and_varied():
    a = generate_sequence("S5", "Discussion", 1, 600, seed=3)
    b = generate_sequence("S5", "Discussion", 1, 600, seed=3)
    assert a.tobytes() == b.tobytes()
    others = [generate_sequence("S5", "Discussion", 2, 600, seed=3),
              generate_sequence("S6", "Discussion", 1, 600, seed=3),
              generate_sequence("S5", "Discussion", 1, 600, seed=4)]
    for o in others:
        assert np.abs(o - a).max() > 100.0


def test_subactions_differ_in_timing_and_path():
    for action in ("Walking", "Phoning", "Sitting"):
        a, b = seq("S1", action, 1), seq("S1", action, 2)
        assert np.median(np.linalg.norm(a[:, 0, :2] - b[:, 0, :2], axis=1)) > 150.0
        rel_a, rel_b = a - a[:, :1], b - b[:, :1]
        assert np.mean(np.linalg.norm(rel_a - rel_b, axis=-1)) > 30.0


# --------------------------------------------------------------------------- skeleton


@pytest.mark.parametrize("subject", ["S1", "S7", "S9", "S11"])
def test_bone_lengths_constant_and_from_bodies(subject):
    x = generate_sequence(subject, "SittingDown", 1, 2500)
    lengths = bone_lengths(x, H36M32)
    want = bodies.body(subject).bone_mm[[j for j, p in enumerate(PARENTS_32) if p >= 0]]
    assert np.abs(lengths - want).max() < 1e-6


def test_bone_lengths_differ_between_subjects():
    rows = np.stack([bodies.body(s).bone_mm for s in bodies.SUBJECTS])
    for i in range(len(rows)):
        for k in range(i + 1, len(rows)):
            assert np.abs(rows[i] - rows[k]).max() > 3.0


def test_real_subjects_have_the_poseaug_template_lengths():
    # 16-joint bone lengths of S1 straight from the generated poses (first row of the real file)
    s1 = (0.1329, 0.4429, 0.4542, 0.1329, 0.4429, 0.4542, 0.2335, 0.2571,
          0.1819, 0.1510, 0.2789, 0.2517, 0.1510, 0.2789, 0.2517)
    x16 = seq("S1", "Walking")[:, list(H36M16_FROM_32)]
    got = np.array([np.linalg.norm(x16[0, c] - x16[0, p]) for c, p in enumerate(PARENTS_16) if p >= 0])
    np.testing.assert_allclose(got / 1000.0, s1, atol=6e-5)
    for subject in bodies.TEMPLATES_M:
        np.testing.assert_array_equal(bodies.template_m(subject), bodies.TEMPLATES_M[subject])
    for subject in ("S2", "S3", "S4", "S9", "S10", "S11"):
        t = bodies.template_m(subject)
        real = np.array(list(bodies.TEMPLATES_M.values()))
        assert ((t > 0.9 * real.min(0)) & (t < 1.1 * real.max(0))).all()


@pytest.mark.parametrize("action", ["Walking", "Posing", "SittingDown", "Phoning"])
def test_duplicate_joints_equal_their_twins(action):
    x = seq("S8", action)
    for j, twin in DUPLICATES_32.items():
        assert np.array_equal(x[:, j], x[:, twin]), (j, twin)
    others = [j for j in range(32) if j not in DUPLICATES_32 and j not in (23, 31)]
    for j in others:
        if PARENTS_32[j] >= 0:
            assert np.linalg.norm(x[:, j] - x[:, PARENTS_32[j]], axis=-1).min() > 50.0


def test_left_is_left():
    """Facing the walking direction, the left hip is on the left (a right-handed, z-up world)."""
    x = seq("S1", "Walking")
    left = x[:, 6] - x[:, 1]
    forward = np.cross(left, [0.0, 0.0, 1.0])
    vel = np.gradient(x[:, 0], axis=0)
    moving = np.linalg.norm(vel[:, :2], axis=1) > 10.0
    assert np.mean(np.sum(forward[moving] * vel[moving], axis=1) > 0) > 0.95
    nose = x[:, 14] - x[:, 13]
    assert np.mean(np.sum(nose * forward, axis=1) > 0) > 0.95
    toes = x[:, 5] - x[:, 3]
    assert np.mean(np.sum(toes * forward, axis=1) > 0) > 0.9


def test_extra_joints_are_placed_on_their_segments():
    x = seq("S6", "Walking")
    body = bodies.body("S6")
    shin = x[:, 3] - x[:, 2]
    toe = x[:, 5] - x[:, 3]
    # toes roughly perpendicular to the shin, head top above the neck, hand ends past the wrist
    cos = np.sum(shin * toe, -1) / np.linalg.norm(shin, axis=-1) / np.linalg.norm(toe, axis=-1)
    assert np.abs(np.median(cos)) < 0.5
    assert np.mean(x[:, 15, 2] > x[:, 13, 2] + 100) > 0.95
    fore = x[:, 27] - x[:, 26]
    hand = x[:, 30] - x[:, 27]
    np.testing.assert_allclose(np.linalg.norm(hand, axis=-1), body.bone_mm[30])
    assert (np.sum(fore * hand, -1) > 0).all()


# --------------------------------------------------------------------------- floor and area


@pytest.mark.parametrize("action", ACTIONS)
def test_feet_on_the_floor(action):
    x = seq("S5", action)
    lowest_ankle = np.minimum(x[:, 3, 2], x[:, 8, 2])
    assert x[..., 2].min() > -15.0  # nothing sinks into the floor
    assert 30.0 < lowest_ankle.min() and np.percentile(lowest_ankle, 5) < 100.0
    still = np.concatenate([[False], root_speed(x) < 50.0])
    if action != "SittingDown" and still.mean() > 0.2:
        assert 60.0 < np.median(lowest_ankle[still]) < 110.0  # standing or seated
    assert np.mean(x[:, 15, 2] > x[:, 0, 2]) > (0.85 if action == "SittingDown" else 0.99)


def test_standing_heights():
    x = seq("S1", "Waiting")
    assert 880 < np.median(x[:, 0, 2]) < 1020  # pelvis
    assert 1450 < np.median(x[:, 15, 2]) < 1750  # head top


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("subject, subaction", [("S1", 1), ("S11", 2)])
def test_root_stays_in_the_capture_area(action, subject, subaction):
    x = generate_sequence(subject, action, subaction, 4000, seed=7) if subject == "S11" else seq(subject, action)
    root = x[:, 0]
    assert AREA_X_MM[0] <= root[:, 0].min() and root[:, 0].max() <= AREA_X_MM[1]
    assert AREA_Y_MM[0] <= root[:, 1].min() and root[:, 1].max() <= AREA_Y_MM[1]


def _yaw(x: np.ndarray) -> np.ndarray:
    left = x[:, 6] - x[:, 1]
    return np.arctan2(-left[:, 0], left[:, 1])


@pytest.mark.parametrize("action", ["Walking", "WalkDog", "WalkTogether", "Greeting", "Purchases"])
def test_walkers_face_every_way(action):
    x = seq("S7", action, 2, 3000)
    hist = np.histogram(_yaw(x), bins=4, range=(-np.pi, np.pi))[0]
    assert (hist > 0.05 * len(x)).all(), hist


@pytest.mark.parametrize("action", ACTIONS)
def test_everyone_turns(action):
    for subject in ("S1", "S9"):
        yaw = np.unwrap(_yaw(seq(subject, action, 1, 3000)))
        assert np.ptp(yaw) > 1.0, np.ptp(yaw)


# --------------------------------------------------------------------------- continuity


@pytest.mark.parametrize("action", ACTIONS)
def test_continuity(action):
    for x in (seq("S6", action, 1, 3000), seq("S9", action, 2, 3000)):
        step = np.linalg.norm(np.diff(x, axis=0), axis=-1)
        assert step.max() < 200.0  # fastest real-looking extremity (toes) ~8 m/s
        assert step[:, [0, 11, 12, 13]].max() < 75.0  # trunk below 3.75 m/s
        jerk = np.linalg.norm(np.diff(x, 2, axis=0), axis=-1)
        assert jerk.max() < 150.0  # a jump of a joint shows here as its full size


# --------------------------------------------------------------------------- actions


def test_sitting_and_eating_are_low_walking_is_fast():
    walking = seq("S1", "Walking")
    pelvis_walk = np.median(walking[:, 0, 2])
    for action in ("Sitting", "Eating"):
        assert np.median(seq("S1", action)[:, 0, 2]) < 0.7 * pelvis_walk
    speed_walk = root_speed(walking).mean()
    assert speed_walk > 700.0
    for action in ("Waiting", "Sitting", "Eating", "Smoking"):
        assert root_speed(seq("S1", action)).mean() < 0.35 * speed_walk
    assert root_speed(seq("S1", "WalkTogether")).mean() < 0.95 * speed_walk


def test_sitting_down_reaches_the_floor():
    x = seq("S1", "SittingDown", 1, 3000)
    assert (x[:, 0, 2] < 350).mean() > 0.2
    assert (x[:, 0, 2] > 850).mean() > 0.1


def test_hands_at_the_head():
    actions = ("Phoning", "Walking", "Waiting", "Smoking", "Eating", "Photo")
    near = {a: hand_at_head(seq("S1", a)).mean() for a in actions}
    assert near["Phoning"] > 0.5 and near["Phoning"] > 5 * near["Walking"]
    assert near["Photo"] > 0.4
    assert 0.05 < near["Smoking"] < near["Phoning"]
    assert 0.05 < near["Eating"]
    assert near["Waiting"] < 0.15


def test_walk_dog_bends_forward_and_reaches_low():
    def lean(x):
        up = x[:, 13] - x[:, 0]
        return np.degrees(np.arccos(up[:, 2] / np.linalg.norm(up, axis=-1))).mean()
    def reach(x):  # how far the leading wrist is ahead of the pelvis
        fwd = np.cross(x[:, 6] - x[:, 1], [0.0, 0.0, 1.0])
        fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
        return np.einsum("tjk,tk->tj", x[:, [19, 27]] - x[:, None, 0], fwd).max(1).mean()
    dog, walk = seq("S8", "WalkDog"), seq("S8", "Walking")
    assert lean(dog) > lean(walk) + 5.0
    assert reach(dog) > reach(walk) + 150.0


def _features(x: np.ndarray) -> np.ndarray:
    """A small per-sequence description: heights, speed, lean, hands, knees."""
    root = x[:, 0]
    left = x[:, 6] - x[:, 1]
    fwd = np.cross(left, [0.0, 0.0, 1.0])
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    up = x[:, 13] - root
    lean = np.arccos(up[:, 2] / np.linalg.norm(up, axis=1))
    wrists = x[:, [19, 27]] - root[:, None]
    thigh, shin = x[:, [2, 7]] - x[:, [1, 6]], x[:, [3, 8]] - x[:, [2, 7]]
    cos = np.sum(thigh * shin, -1) / np.linalg.norm(thigh, axis=-1) / np.linalg.norm(shin, axis=-1)
    knee = np.arccos(np.clip(cos, -1.0, 1.0))
    speed = root_speed(x)
    return np.array([
        root[:, 2].mean(), root[:, 2].std(), speed.mean(), speed.std(), lean.mean(), lean.std(),
        hand_at_head(x).mean(), wrists[..., 2].max(1).mean(), wrists[..., 2].min(1).mean(),
        np.einsum("tjk,tk->tj", wrists, fwd).max(1).mean(), knee.mean(), knee.std(),
        np.linalg.norm(wrists[:, 0] - wrists[:, 1], axis=1).mean(),
    ])


def test_nearest_centroid_separates_actions_across_subjects_and_subactions():
    train = [(_features(seq(s, a, 1, 1000)), i) for s in ("S1", "S5", "S6") for i, a in enumerate(ACTIONS)]
    test = [(_features(seq(s, a, 2, 1000)), i) for s in ("S9", "S11") for i, a in enumerate(ACTIONS)]
    xtr, ytr = np.array([f for f, _ in train]), np.array([y for _, y in train])
    xte, yte = np.array([f for f, _ in test]), np.array([y for _, y in test])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-9
    centroids = np.stack([((xtr - mu) / sd)[ytr == i].mean(0) for i in range(len(ACTIONS))])
    dist = ((((xte - mu) / sd)[:, None, :] - centroids[None]) ** 2).sum(-1)
    pred = np.argmin(dist, axis=1)
    accuracy = float(np.mean(pred == yte))
    assert accuracy > 5.0 / len(ACTIONS), accuracy  # chance is 1/15


# --------------------------------------------------------------------------- library and kinematics


def test_library_file_holds_the_clips_used():
    assert LIBRARY_PATH.is_file() and LIBRARY_PATH.stat().st_size < 3_000_000
    lib = load_library()
    assert CLIPS_USED <= set(lib) and set(lib) == set(CLIPS)
    for name, clip in lib.items():
        assert clip.source == CLIPS[name][0]
        assert clip.fps > 23.9 and clip.n_frames >= 25
        assert clip.rotations.shape == (clip.n_frames, 13, 4)
        np.testing.assert_allclose(np.linalg.norm(clip.rotations, axis=-1), 1.0, atol=1e-5)
    with np.load(LIBRARY_PATH) as z:
        assert z["root_pos_m"].dtype == np.float32 and z["rotations"].dtype == np.float32
        assert set(z["sources"]) == {v[0] for v in CLIPS.values()}


@pytest.mark.skipif(not SOURCE.is_dir(), reason="DeepMimic source clips not available")
def test_library_rebuilds_byte_for_byte(tmp_path):
    out = tmp_path / "lib.npz"
    assert main(["--src", str(SOURCE), "--out", str(out)]) == 0
    assert out.read_bytes() == LIBRARY_PATH.read_bytes()


def test_library_build_rejects_a_bad_source(tmp_path):
    assert main(["--src", str(tmp_path), "--out", str(tmp_path / "lib.npz")]) == 1
    assert not (tmp_path / "lib.npz").exists()


def test_looping_clip_carries_on_its_walk():
    walk = load_library()["walk"]
    assert walk.loop
    t = np.arange(0.0, 4 * walk.duration_s, 0.02)
    pos, rot = sample_clip(walk, t)
    assert np.linalg.norm(pos[-1, :2] - pos[0, :2]) > 3.0  # metres after four cycles
    assert np.linalg.norm(np.diff(pos, axis=0), axis=1).max() < 0.05
    assert (np.abs(np.sum(rot[1:] * rot[:-1], -1)) > 0.98).all()


def test_quaternion_helpers_agree_with_matrices():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    r = rng.normal(size=(50, 4))
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    v = rng.normal(size=(50, 3))
    np.testing.assert_allclose(quat_to_matrix(quat_mul(q, r)), quat_to_matrix(q) @ quat_to_matrix(r), atol=1e-12)
    np.testing.assert_allclose(quat_rotate(q, v), np.einsum("nab,nb->na", quat_to_matrix(q), v), atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(quat_to_matrix(q))), quat_to_matrix(q), atol=1e-12)
    np.testing.assert_allclose(quat_from_axis_angle([0, 0, 2.0], np.pi / 2), quat_about("z", np.pi / 2), atol=1e-15)
    mid = quat_slerp(quat_about("z", 0.2), quat_about("z", 1.0), 0.25)
    np.testing.assert_allclose(mid, quat_about("z", 0.4), atol=1e-12)


def test_two_bone_ik_reaches_and_bends_the_right_way():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(200, 3))
    target *= (rng.uniform(0.1, 0.5, 200) / np.linalg.norm(target, axis=1))[:, None]
    pole = rng.normal(size=(200, 3))
    for bend in (+1.0, -1.0):
        q, angle = two_bone_ik(target, 0.3, 0.25, pole, bend)
        elbow = quat_rotate(q, np.array([0.0, -0.3, 0.0]))
        end = elbow + quat_rotate(quat_mul(q, quat_about("z", angle)), np.array([0.0, -0.25, 0.0]))
        np.testing.assert_allclose(end, target, atol=1e-9)
        assert (np.sign(angle) == bend).all()


def test_forward_kinematics_scales_segments():
    clip = load_library()["dance_b"]
    pos, rot = sample_clip(clip, np.arange(0.0, 1.0, 0.1))
    scale = np.linspace(0.8, 1.2, 13)
    joints = dm_positions(pos, global_rotations(rot), scale)
    for j in range(1, 13):
        got = np.linalg.norm(joints[:, j] - joints[:, DM_PARENTS[j]], axis=-1)
        np.testing.assert_allclose(got, np.linalg.norm(DM_OFFSETS_M[j]) * scale[j], rtol=1e-12)
    np.testing.assert_allclose(joints[:, 0], pos)


def test_mirrored_clip_is_the_mirror_image():
    clip = load_library()["dance_b"]
    _, rot = sample_clip(clip, np.arange(0.0, 2.0, 0.02))
    rot[:, 0] = quat_mul(quat_about("z", -quat_yaw(rot[:, 0])), rot[:, 0])
    flip = H36M32.flip_permutation()
    bones = bodies.body("S1").bone_mm
    bones = 0.5 * (bones + bones[flip])  # the real hands differ left and right
    zero = np.zeros((len(rot), 3))
    a = h36m_positions(zero, global_rotations(rot), bones, PARENTS_32)
    b = h36m_positions(zero, global_rotations(mirror_pose(rot)), bones, PARENTS_32)
    np.testing.assert_allclose(a[:, flip] * [1.0, -1.0, 1.0], b, atol=1e-9)
