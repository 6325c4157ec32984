"""The sequence builder: a timeline of segments and arm overlays that recipes fill in.

A sequence is built as a timeline of segments (walking along planned curves, standing,
sitting, clip playback) by the recipe of its action (:mod:`pose3d.synth.actions`).
Segments overlap by :data:`BLEND` frames and are cross-faded (slerp), and arm overlays
(IK targets such as "hand at the ear") are faded in and out on top. Everything is
vectorised over frames; Python loops run per segment only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pose3d.synth import bodies
from pose3d.synth.clips import SMOOTH_FRAMES, clip_profile, clip_speed_m, mean_pose, mirror_pose
from pose3d.synth.kinematics import (
    DM_LEG_M, DM_TO_WORLD_QUAT, J, L_SHOULDER_DIR, R_SHOULDER_DIR, continuous_sign, quat_about,
    quat_conj, quat_mul, quat_rotate, quat_scale, quat_slerp, quat_yaw, two_bone_ik,
)
from pose3d.synth.motion_library import Clip, load_library, sample_clip
from pose3d.synth.paths import ANKLE_MM, ANKLE_SHIN_MM, Curve, anchor_box, fit_in_box
from pose3d.synth.signals import DT, FPS, eval_noise, noise_params, ramp, smooth_noise, smoothstep, wrap_angle

#: Frames over which consecutive segments are cross-faded.
BLEND = 30

_RIGHT, _LEFT = +1, -1


@dataclass(frozen=True)
class ArmTarget:
    """Where an arm overlay puts the wrist, written for the right arm of an S1-sized body.

    ``frame`` is 'neck' or 'chest' (mm in that DeepMimic frame: x forward, y up, z right),
    'root' (mm in the pelvis frame) or 'shoulder' (from the shoulder, chest axes, in units
    of the subject's full arm reach). ``pole`` (chest frame) is where the elbow points.
    ``wobble`` adds smooth random motion (mm per axis) and ``wave`` a periodic one at
    ``wave_hz``. The left arm uses the mirror image.
    """

    frame: str
    point: tuple[float, float, float]
    pole: tuple[float, float, float] = (0.0, -1.0, 0.6)
    wobble: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wobble_hz: tuple[float, float] = (0.3, 1.0)
    wave: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wave_hz: float = 0.0


@dataclass
class _Overlay:
    """One arm held at a target for frames [start, start + n), fading over ``fade`` at each end."""

    start: int
    n: int
    fade: int
    side: int
    target: ArmTarget
    noise: np.ndarray
    phase: float


@dataclass
class _Segment:
    """One stretch of the timeline from ``start``, before it is cross-faded with its neighbours."""

    start: int
    pose: np.ndarray      # (m, 13, 4) root rotation relative to the heading frame, then local
    offset: np.ndarray    # (m, 3) root position in the heading frame (mm), before grounding
    heading: np.ndarray   # (m,) absolute heading (rad, unwrapped)
    disp: np.ndarray      # (m, 2) anchor displacement from the segment's starting anchor (mm)


class Rig:
    """The subject's geometry in the DeepMimic segment frames, for IK and targets (mm)."""

    def __init__(self, body: bodies.Body):
        b = body.bone_mm
        self.hip, self.thigh, self.shin = b[1], b[2], b[3]
        self.spine, self.chest = b[12], b[13]
        self.upper, self.fore = b[26], b[27]
        self.reach = self.upper + self.fore
        self.ankle = ANKLE_MM * self.shin / ANKLE_SHIN_MM
        self.leg_scale = body.leg_mm / (DM_LEG_M * 1000.0)
        self.torso_scale = (self.spine + self.chest) / 490.55
        self.head_scale = body.head_scale
        self.shoulder = {_RIGHT: np.array([0.0, self.chest, 0.0]) + R_SHOULDER_DIR * b[25],
                         _LEFT: np.array([0.0, self.chest, 0.0]) + L_SHOULDER_DIR * b[17]}


def _joints(side: int) -> tuple[int, int, int, int, int]:
    """(hip, knee, ankle, shoulder, elbow) indices of one side."""
    if side == _RIGHT:
        return J["right_hip"], J["right_knee"], J["right_ankle"], J["right_shoulder"], J["right_elbow"]
    return J["left_hip"], J["left_knee"], J["left_ankle"], J["left_shoulder"], J["left_elbow"]


def _rot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate ``v`` by every quaternion of ``q`` (one vector may serve all frames)."""
    return quat_rotate(q, np.broadcast_to(v, q.shape[:-1] + (3,)))


class Builder:
    """Collects the segments and overlays of one sequence; recipes drive it."""

    def __init__(self, body: bodies.Body, seed: tuple[int, ...], n_frames: int,
                 library: dict[str, Clip] | None = None):
        self.rig = Rig(body)
        self.seed = tuple(int(s) for s in seed)
        #: Draws for the timeline, in the order the recipe makes them.
        self.rng = np.random.default_rng(self.seed)
        #: Draws for schedules that run to the end of the sequence (e.g. a cigarette every
        #: few seconds); kept apart so that a shorter sequence is the start of a longer one.
        self.timing_rng = np.random.default_rng(self.seed + (1,))
        self.n_frames = n_frames
        self.lib = load_library() if library is None else library
        self.box = anchor_box()
        lo, hi = self.box
        self.center = 0.5 * (lo + hi)
        self.start_pos = self.center + self.rng.uniform(-0.5, 0.5, 2) * (hi - lo)
        self.pos = self.start_pos.copy()
        self.heading = float(self.rng.uniform(-np.pi, np.pi))
        self.cursor = 0
        self.segments: list[_Segment] = []
        self.overlays: list[_Overlay] = []
        self._last_walk: tuple[tuple[str, bool, int], float] | None = None

    # ------------------------------------------------------------------ timeline
    @property
    def done(self) -> bool:
        return self.cursor >= self.n_frames + BLEND

    def seconds(self, lo: float, hi: float) -> int:
        """A random duration in frames (at least long enough to cross-fade)."""
        return max(BLEND + 2, int(round(self.rng.uniform(lo, hi) * FPS)))

    def _extent(self, n: int) -> tuple[int, int, np.ndarray]:
        first = not self.segments
        lo = self.cursor - (0 if first else BLEND // 2)
        m = self.cursor + n + BLEND // 2 - lo
        w = np.ones(m)
        if not first:
            w[:BLEND] = ramp(BLEND)
        w[-BLEND:] = 1.0 - ramp(BLEND)
        return lo, m, w

    def _push(self, lo: int, n: int, pose, offset, heading, disp) -> None:
        self.segments.append(_Segment(lo, pose, offset, heading, disp))
        self.cursor += n
        self.pos = self.pos + disp[-1]
        self.heading = float(heading[-1])

    # ------------------------------------------------------------------ clip tracks
    def _clip_track(self, clip: Clip, times: np.ndarray, mirror: bool):
        """Heading-relative pose, root offset (mm), smoothed heading and path (mm) of a clip."""
        pos, rot = sample_clip(clip, times)
        yaw = np.unwrap(quat_yaw(rot[:, 0]))
        yaw_s = gaussian_filter1d(yaw, SMOOTH_FRAMES, mode="nearest")
        path = gaussian_filter1d(pos[:, :2], SMOOTH_FRAMES, axis=0, mode="nearest")
        pose = rot.copy()
        pose[:, 0] = quat_mul(quat_about("z", -yaw_s), rot[:, 0])
        rel = pos[:, :2] - path
        c, s = np.cos(-yaw_s), np.sin(-yaw_s)
        scale = 1000.0 * self.rig.leg_scale
        offset = np.stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1], pos[:, 2]], -1) * scale
        path = path * scale
        if mirror:
            pose = mirror_pose(pose)
            offset[:, 1] *= -1.0
            yaw_s = 2 * yaw_s[0] - yaw_s
            rel_path = path - path[0]
            c0, s0 = np.cos(yaw_s[0]), np.sin(yaw_s[0])
            along = rel_path @ np.array([c0, s0])
            across = rel_path @ np.array([-s0, c0])
            path = path[0] + along[:, None] * np.array([c0, s0]) - across[:, None] * np.array([-s0, c0])
        return pose, offset, yaw_s, path

    def _clip_speed(self, name: str) -> float:
        """Mean walking speed of a clip on this subject (mm/s)."""
        return clip_speed_m(self.lib[name]) * 1000.0 * self.rig.leg_scale

    # ------------------------------------------------------------------ walking
    def pick_target(self, min_mm: float = 1200.0, max_mm: float = 2600.0, max_turn: float = 1.2) -> np.ndarray:
        """A random anchor in the area, preferably ahead of the body."""
        lo, hi = self.box
        cand = lo + self.rng.uniform(0, 1, (48, 2)) * (hi - lo)
        d = np.linalg.norm(cand - self.pos, axis=1)
        turn = np.abs(wrap_angle(np.arctan2(cand[:, 1] - self.pos[1], cand[:, 0] - self.pos[0]) - self.heading))
        ok = (d >= min_mm) & (d <= max_mm) & (turn <= max_turn)
        if ok.any():
            return cand[np.flatnonzero(ok)[0]]
        score = turn + np.abs(d - 0.5 * (min_mm + max_mm)) / 1000.0
        return cand[np.argmin(score)]

    def walk(self, to=None, end_heading: float | None = None, clip: str = "long_walk1",
             speed: float = 1.0, mirror: bool | None = None, lean: float = 0.0,
             twist: float = 0.0, look: float = 0.0, reach: float = 0.4,
             max_frames: int | None = None, turn_first: float = 1.3) -> None:
        """Walk a real walking clip along a curve from here to ``to`` (mm, a random point if None).

        ``lean`` (forward) and ``twist`` (to the left) bend the chest by that many degrees;
        ``look`` turns the head to the left. A target more than ``turn_first`` radians
        off the current heading is preceded by a turn on the spot.
        """
        rng = self.rng
        target = self.pick_target() if to is None else np.asarray(to, dtype=float)
        target = np.clip(target, self.box[0], self.box[1])
        bearing = np.arctan2(target[1] - self.pos[1], target[0] - self.pos[0])
        turn = float(wrap_angle(bearing - self.heading))
        if abs(turn) > turn_first:
            self.stand(self.seconds(1.0, 1.6), turn=turn * 0.85, shift=0.3, look=0.3)
        elif np.linalg.norm(target - self.pos) > 600.0:
            ahead = fit_in_box(self.pos, np.array([np.cos(self.heading), np.sin(self.heading)]), 1e9, self.box)
            if ahead < 250.0 and abs(turn) > 0.5:
                self.stand(self.seconds(1.0, 1.6), turn=turn * 0.85, shift=0.3, look=0.3)
        if np.linalg.norm(target - self.pos) < 300.0:
            self.stand(self.seconds(1.0, 2.0), shift=0.5)
            return
        if end_heading is None:
            end_heading = bearing + rng.uniform(-0.6, 0.6)
        curve = Curve(self.pos, self.heading, target, end_heading, self.box, reach)
        c = self.lib[clip]
        last = self._last_walk
        follows = last is not None and last[0][0] == clip and last[0][2] == len(self.segments)
        if mirror is None and follows:
            mirror = last[0][1]
        v = self._clip_speed(clip) * speed
        n = max(BLEND + 2, int(round(curve.length / (v * DT))))
        if max_frames is not None:
            n = min(n, max(BLEND + 2, max_frames))
        span = (n + BLEND) * DT * speed
        t0, mirror = self._clip_start(c, span, curve.angle[-1] - curve.angle[0], mirror)
        # Carry on where the previous walk on this clip stopped: the cross-fade then blends
        # two copies of the same gait phase instead of two different steps.
        if follows and last[0][1] == mirror and (c.loop or last[1] + 1.5 * span < c.duration_s):
            t0 = last[1]
        for attempt in range(3):
            lo, m, w = self._extent(n)
            times = t0 + speed * DT * np.arange(m)
            pose, offset, _, path = self._clip_track(c, times, mirror)
            step = np.linalg.norm(np.diff(path, axis=0, prepend=path[:1]), axis=1)
            step[0] = step[1]
            prog = np.cumsum(w * step)
            ratio = curve.length / prog[-1]
            if abs(ratio - 1.0) < 0.03 or attempt == 2 or max_frames is not None:
                break
            n = max(BLEND + 2, int(round(n * ratio)))
        s = prog * (curve.length / prog[-1])
        xy, heading = curve.at(s)
        pose = self._bend(pose, lean, twist, look)
        self._push(lo, n, pose, offset, heading, xy - curve.pts[0])
        self._last_walk = ((clip, mirror, len(self.segments)), float(times[self.cursor - BLEND // 2 - lo]))

    def _clip_start(self, clip: Clip, span: float, turn: float, mirror: bool | None) -> tuple[float, bool]:
        """Where to start a walking clip (and whether to mirror it) for a path turning by ``turn``.

        Long clips are searched for a stretch that turns about as much as the path and
        keeps walking (no stop inside), so the steps match the curve being followed.
        """
        rng = self.rng
        mirrors = [bool(rng.integers(2))] if mirror is None else [mirror]
        if clip.loop or clip.duration_s <= span:
            return (float(rng.uniform(0, clip.duration_s)) if clip.loop else 0.0), mirrors[0]
        if mirror is None:
            mirrors.append(not mirrors[0])
        speed, yaw = clip_profile(clip)
        t0 = rng.uniform(0, clip.duration_s - span, 16)
        i0 = np.round(t0 * FPS).astype(int)
        i1 = np.minimum(i0 + int(round(span * FPS)), len(yaw) - 1)
        slow = np.array([speed[a:b + 1].min() for a, b in zip(i0, i1)]) / speed.mean()
        best, choice = np.inf, (float(t0[0]), mirrors[0])
        for mir in mirrors:
            turned = (yaw[i1] - yaw[i0]) * (-1.0 if mir else 1.0)
            score = np.abs(turned - turn) + 3.0 * np.maximum(0.0, 0.8 - slow)
            k = int(np.argmin(score))
            if score[k] < best:
                best, choice = score[k], (float(t0[k]), mir)
        return choice

    # ------------------------------------------------------------------ clip playback
    def play(self, clip: str, t0: float, t1: float, speed: float = 1.0, mirror: bool | None = None,
             travel: float = 1.0, lean: float = 0.0, twist: float = 0.0) -> None:
        """Play a clip from t0 to t1 (seconds; t1 < t0 plays it backwards) at ``speed``.

        The body turns as in the clip and moves with it (scaled by ``travel``, and less
        where that would leave the area).
        """
        c = self.lib[clip]
        mirror = bool(self.rng.integers(2)) if mirror is None else mirror
        n = max(BLEND + 2, int(round(abs(t1 - t0) / speed * FPS)))
        lo, m, w = self._extent(n)
        direction = 1.0 if t1 >= t0 else -1.0
        first = 0 if not self.segments else BLEND // 2
        times = t0 + direction * speed * DT * (np.arange(m) - first)
        pose, offset, yaw_s, path = self._clip_track(c, times, mirror)
        heading = self.heading + (yaw_s - yaw_s[first])
        rot = self.heading - yaw_s[first]
        step = np.diff(path, axis=0, prepend=path[:1]) * w[:, None]
        c_, s_ = np.cos(rot), np.sin(rot)
        step = step @ np.array([[c_, s_], [-s_, c_]])
        disp = np.cumsum(step, axis=0)
        disp *= travel * self._room(disp)
        pose = self._bend(pose, lean, twist, 0.0)
        self._push(lo, n, pose, offset, heading, disp)

    def _room(self, disp: np.ndarray) -> float:
        """Largest factor <= 1 by which a displacement path can scale and stay in the box."""
        lo, hi = self.box
        f = 1.0
        for axis in range(2):
            top = disp[:, axis].max()
            bot = disp[:, axis].min()
            if top > 1e-6:
                f = min(f, max(hi[axis] - self.pos[axis], 0.0) / top)
            if bot < -1e-6:
                f = min(f, max(self.pos[axis] - lo[axis], 0.0) / -bot)
        return f

    def hold_clip(self, clip: str, t: float, n: int, mirror: bool = False, drift: float = 0.15,
                  texture: str = "dance_b", amount: float = 0.15) -> None:
        """Hold one frame of a clip (e.g. sitting on the floor), kept alive by a little texture."""
        lo, m, _ = self._extent(n)
        pose, offset, _, _ = self._clip_track(self.lib[clip], np.full(m, t), mirror)
        pose = self._texture(pose, texture, amount)
        wob = smooth_noise(self.rng, m, 0.05, 0.2)[:, 0] * drift
        heading = self.heading + wob - wob[0]
        self._push(lo, n, pose, offset, heading, np.zeros((m, 2)))

    # ------------------------------------------------------------------ procedural holds
    def _turn_profile(self, m: int, turn: float, first: int) -> np.ndarray:
        """Heading over a hold: one smooth turn by ``turn`` radians somewhere inside it."""
        if abs(turn) < 1e-9:
            return np.full(m, self.heading)
        dur = int(np.clip(abs(turn) / np.radians(70.0) * FPS, 20, max(20, m - first - BLEND)))
        start = first + int(self.rng.integers(0, max(1, m - first - BLEND - dur)))
        u = smoothstep((np.arange(m) - start) / dur)
        return self.heading + turn * u

    def stand(self, n: int, turn: float = 0.0, crouch: float = 0.0, bend: float = 0.0,
              shift: float = 1.0, look: float = 1.0, stance: float = 1.0,
              texture: str = "dance_b", amount: float = 0.2) -> None:
        """Stand with the feet planted: weight shifts, sway, head look-around.

        ``crouch`` lowers the pelvis (mm), ``bend`` pitches the trunk forward (degrees),
        ``turn`` turns the body on the spot (radians), ``stance`` widens the feet.
        """
        rng, rig = self.rng, self.rig
        lo, m, _ = self._extent(n)
        half = rig.hip + rng.uniform(0.0, 60.0) * stance
        stagger = rng.uniform(-90.0, 90.0) * stance
        sh = smooth_noise(rng, m, 0.04, 0.2)[:, 0] * shift
        sway = smooth_noise(rng, m, 0.1, 0.4, 3) * np.radians([2.0, 1.5, 3.0])
        bend_r = np.radians(bend)
        hip_h = rig.ankle + (rig.thigh + rig.shin) * 0.985 - crouch - 12.0 * np.abs(sh)
        back = -np.sin(bend_r) * 0.35 * rig.thigh - 0.25 * crouch
        root_pos = np.stack([np.full(m, back), sh * 0.45 * rig.hip, np.full(m, hip_h)], -1)
        q_root = quat_mul(quat_about("z", sway[:, 2]),
                          quat_mul(quat_about("x", np.radians(2.5) * sh + sway[:, 0]),
                                   quat_mul(quat_about("y", 0.55 * bend_r + sway[:, 1]),
                                            DM_TO_WORLD_QUAT)))
        pose = np.zeros((m, 13, 4))
        pose[..., 0] = 1.0
        pose[:, 0] = q_root
        feet = {_RIGHT: np.array([stagger / 2, -half, rig.ankle]), _LEFT: np.array([-stagger / 2, half, rig.ankle])}
        toe_out = np.radians(rng.uniform(4.0, 12.0))
        self._legs(pose, root_pos, feet, toe_out, pole=(1.0, 0.0, 0.15))
        pose[:, J["chest"]] = quat_about("z", -0.45 * bend_r - np.radians(1.0) * sway[:, 1])
        look_yaw = smooth_noise(rng, m, 0.03, 0.15)[:, 0] * np.radians(30.0) * look
        look_pitch = smooth_noise(rng, m, 0.03, 0.15)[:, 0] * np.radians(8.0) * look
        pose[:, J["neck"]] = quat_mul(quat_about("y", look_yaw), quat_about("z", look_pitch + 0.3 * bend_r))
        self._neutral_arms(pose)
        pose = self._texture(pose, texture, amount)
        first = 0 if not self.segments else BLEND // 2
        heading = self._turn_profile(m, turn, first)
        self._push(lo, n, pose, root_pos, heading, np.zeros((m, 2)))

    def sit(self, n: int, legs: str = "normal", lean: float = 0.0, recline: float = 8.0,
            turn: float = 0.0, seat: float = 0.0, look: float = 1.0, hands: str = "thighs",
            texture: str = "dance_b", amount: float = 0.2) -> None:
        """Sit on a chair: pelvis at seat height, feet on the floor (or legs crossed).

        ``legs``: 'normal', 'wide', 'forward', 'tucked', 'ankles' (crossed at the ankles) or
        'cross' (right leg over the left knee; use the mirror side via 'cross_left').
        ``lean`` tips the chest forward (degrees), ``recline`` tips the pelvis back.
        """
        rng, rig = self.rng, self.rig
        lo, m, _ = self._extent(n)
        height = rig.ankle + rig.shin * 0.97 + 15.0 + seat
        sway = smooth_noise(rng, m, 0.05, 0.3, 3) * np.radians([1.5, 1.5, 2.5])
        root_pos = np.stack([np.zeros(m), np.zeros(m), np.full(m, height)], -1)
        rec = np.radians(recline)
        q_root = quat_mul(quat_about("z", sway[:, 2]),
                          quat_mul(quat_about("x", sway[:, 0]),
                                   quat_mul(quat_about("y", -rec + sway[:, 1]), DM_TO_WORLD_QUAT)))
        pose = np.zeros((m, 13, 4))
        pose[..., 0] = 1.0
        pose[:, 0] = q_root
        fwd = rig.thigh * 0.95 + {"forward": 230.0, "tucked": -120.0}.get(legs, 0.0) + rng.uniform(-40, 60)
        spread = rig.hip + rng.uniform(10.0, 70.0) + (120.0 if legs == "wide" else 0.0)
        feet = {_RIGHT: np.array([fwd, -spread, rig.ankle]),
                _LEFT: np.array([fwd + rng.uniform(-60, 60), spread, rig.ankle])}
        if legs == "ankles":
            feet[_RIGHT][1], feet[_LEFT][1] = 40.0, -40.0
            feet[_LEFT][0] = feet[_RIGHT][0] + 30.0
        self._legs(pose, root_pos, feet, np.radians(8.0), pole=(0.3, 1.0, 0.2))
        if legs in ("cross", "cross_left"):
            over = _RIGHT if legs == "cross" else _LEFT
            under = -over
            knee = self._knee_position(pose, root_pos, under)
            target = knee + np.array([40.0, under * 70.0, 110.0])
            self._legs(pose, root_pos, {over: target}, np.radians(10.0), pole=(0.3, 1.0, 0.7), foot_pitch=0.6)
        pose[:, J["chest"]] = quat_about("z", -np.radians(lean) - 0.6 * rec + np.radians(1.0) * sway[:, 1])
        look_yaw = smooth_noise(rng, m, 0.03, 0.15)[:, 0] * np.radians(25.0) * look
        pose[:, J["neck"]] = quat_mul(quat_about("y", look_yaw), quat_about("z", np.radians(-5.0) + 0.4 * rec))
        self._neutral_arms(pose)
        if hands == "thighs":
            for side in (_RIGHT, _LEFT):
                tgt = np.array([rig.thigh * 0.55, 60.0, side * (rig.hip + 20.0)])
                self._arm_pose(pose, side, "root", np.broadcast_to(tgt, (m, 3)), (-0.2, -1.0, 0.8 * side))
        pose = self._texture(pose, texture, amount)
        first = 0 if not self.segments else BLEND // 2
        heading = self._turn_profile(m, turn, first)
        self._push(lo, n, pose, root_pos, heading, np.zeros((m, 2)))

    # ------------------------------------------------------------------ pose helpers
    def _legs(self, pose, root_pos, feet: dict, toe_out: float, pole, foot_pitch: float = 0.0) -> None:
        """Leg IK: put each ankle (heading frame, mm) where asked and the foot flat (or pitched)."""
        rig = self.rig
        q_root = pose[:, 0]
        for side, ankle in feet.items():
            hip_j, knee_j, ankle_j, _, _ = _joints(side)
            hip = root_pos + _rot(q_root, np.array([0.0, 0.0, side * rig.hip]))
            target = _rot(quat_conj(q_root), ankle - hip)
            p = np.array(pole, dtype=float) * np.array([1.0, 1.0, side])
            q_hip, knee = two_bone_ik(target, rig.thigh, rig.shin, p, -1.0)
            pose[:, hip_j] = q_hip
            pose[:, knee_j] = quat_about("z", knee)
            foot = quat_mul(quat_about("z", -side * toe_out), quat_mul(quat_about("y", foot_pitch), DM_TO_WORLD_QUAT))
            shin = quat_mul(q_root, quat_mul(q_hip, pose[:, knee_j]))
            pose[:, ankle_j] = quat_mul(quat_conj(shin), np.broadcast_to(foot, shin.shape))

    def _knee_position(self, pose, root_pos, side: int) -> np.ndarray:
        hip_j, _, _, _, _ = _joints(side)
        hip = root_pos + _rot(pose[:, 0], np.array([0.0, 0.0, side * self.rig.hip]))
        return hip + _rot(quat_mul(pose[:, 0], pose[:, hip_j]), np.array([0.0, -self.rig.thigh, 0.0]))

    def _neutral_arms(self, pose) -> None:
        rng = self.rng
        for side in (_RIGHT, _LEFT):
            _, _, _, sh, el = _joints(side)
            abd = np.radians(rng.uniform(5.0, 12.0))
            pose[:, sh] = quat_mul(quat_about("z", np.radians(rng.uniform(0.0, 8.0))), quat_about("x", -side * abd))
            pose[:, el] = quat_about("z", np.radians(rng.uniform(8.0, 22.0)))

    def _texture(self, pose, clip: str, amount: float) -> np.ndarray:
        """Add a damped copy of a real clip's upper-body motion, so holds are never frozen."""
        if amount <= 0:
            return pose
        c = self.lib[clip]
        m = len(pose)
        t0 = self.rng.uniform(0, c.duration_s)
        _, rot = sample_clip(c, t0 + self.rng.uniform(0.25, 0.45) * DT * np.arange(m))
        mean = mean_pose(c)
        joints = [J["chest"], J["neck"], J["right_shoulder"], J["right_elbow"], J["left_shoulder"], J["left_elbow"]]
        dev = quat_mul(quat_conj(mean[joints]), rot[:, joints])
        out = pose.copy()
        out[:, joints] = quat_mul(pose[:, joints], quat_scale(dev, amount))
        return out

    @staticmethod
    def _bend(pose, lean: float, twist: float, look: float) -> np.ndarray:
        if lean == 0 and twist == 0 and look == 0:
            return pose
        out = pose.copy()
        bend = quat_mul(quat_about("y", np.radians(twist)), quat_about("z", -np.radians(lean)))
        out[:, J["chest"]] = quat_mul(bend, pose[:, J["chest"]])
        head = quat_mul(quat_about("y", np.radians(look)), quat_about("z", np.radians(0.6 * lean)))
        out[:, J["neck"]] = quat_mul(head, pose[:, J["neck"]])
        return out

    def _to_chest(self, pose, frame: str, pts: np.ndarray, side: int) -> np.ndarray:
        """Points (k, 3) given in ``frame`` expressed in the chest frame (mm)."""
        rig = self.rig
        if frame == "chest":
            return pts
        if frame == "shoulder":
            return rig.shoulder[side] + pts
        if frame == "neck":
            return np.array([0.0, rig.chest, 0.0]) + _rot(pose[:, J["neck"]], pts)
        if frame == "root":
            return _rot(quat_conj(pose[:, J["chest"]]), pts - np.array([0.0, rig.spine, 0.0]))
        raise ValueError(f"unknown target frame {frame!r}")

    def _arm_pose(self, pose, side: int, frame: str, pts: np.ndarray, pole,
                  weight: np.ndarray | None = None) -> None:
        """Arm IK towards wrist targets ``pts`` (in ``frame``), in place on ``pose``.

        With ``weight`` the arm is slerped from its current pose. Each fade picks one arc
        for all its frames, so an arm passing 180 degrees from its target never flips
        between the two ways round.
        """
        rig = self.rig
        _, _, _, sh, el = _joints(side)
        target = self._to_chest(pose, frame, pts, side) - rig.shoulder[side]
        q_sh, th = two_bone_ik(target, rig.upper, rig.fore, np.asarray(pole, float), +1.0)
        if weight is None:
            pose[:, sh], pose[:, el] = q_sh, quat_about("z", th)
            return
        base = continuous_sign(pose[:, sh], axis=0)
        q_sh = continuous_sign(q_sh, axis=0)
        dots = np.sum(base * q_sh, axis=-1)
        fading = np.concatenate([[False], weight < 1.0 - 1e-9, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(fading))
        for a, b in zip(edges[::2], edges[1::2]):
            if dots[a:b].sum() < 0:
                q_sh[a:b] *= -1.0
        th_base = wrap_angle(2.0 * np.arctan2(pose[:, el, 3], pose[:, el, 0]))
        pose[:, sh] = quat_slerp(base, q_sh, weight, shortest=False)
        pose[:, el] = quat_about("z", th_base + weight * (th - th_base))

    # ------------------------------------------------------------------ overlays
    def arm(self, side: int, target: ArmTarget, n: int, start: int | None = None, fade: int = 25) -> None:
        """Move one arm to ``target`` for ``n`` frames from ``start`` (default: now), fading in and out."""
        start = self.cursor if start is None else start
        m = n + 2 * fade
        # An earlier overlay of this arm that would stop while this one fades in (its
        # fade-in starts from that overlay's pose) is kept on until this one fully covers it.
        for ov in self.overlays:
            end = ov.start + ov.n
            if ov.side == side and ov.start < start - fade < end < start - fade + m:
                ov.n = max(ov.n, start + fade + ov.fade - ov.start)
        # The wobble depends on when and which arm only, not on how many overlays came before.
        rng = np.random.default_rng(self.seed + (2, side + 1, start + 1_000_000))
        self.overlays.append(_Overlay(start - fade, m, fade, side, target,
                                      noise_params(rng, *target.wobble_hz, 3),
                                      float(rng.uniform(0, 2 * np.pi))))

    def _apply_overlays(self, pose) -> None:
        """Fade each arm overlay in and out on top of the composed pose, in place."""
        rig = self.rig
        total = len(pose)
        for ov in self.overlays:
            a, b = max(ov.start, 0), min(ov.start + ov.n, total)
            if a >= b:
                continue
            k = np.arange(a, b) - ov.start
            w = np.minimum(1.0, np.minimum(smoothstep((k + 0.5) / ov.fade), smoothstep((ov.n - k - 0.5) / ov.fade)))
            tg = ov.target
            mirror = np.array([1.0, 1.0, float(ov.side)])
            scale = {"neck": rig.head_scale, "chest": rig.torso_scale, "root": rig.torso_scale,
                     "shoulder": rig.reach}[tg.frame]
            pts = np.asarray(tg.point) * scale + eval_noise(ov.noise, k) * np.asarray(tg.wobble)
            if tg.wave_hz > 0:
                pts = pts + np.sin(2 * np.pi * tg.wave_hz * k / FPS + ov.phase)[:, None] * np.asarray(tg.wave)
            pts = pts * mirror
            seg = pose[a:b]
            self._arm_pose(seg, ov.side, tg.frame, pts, np.asarray(tg.pole) * mirror, w)
            pose[a:b] = seg

    # ------------------------------------------------------------------ assembly
    def compose(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cross-fade the segments: heading-relative pose, root offset, heading, anchor."""
        total = self.cursor + BLEND // 2
        pose = np.zeros((total, 13, 4))
        offset = np.zeros((total, 3))
        heading = np.zeros(total)
        inc = np.zeros((total, 2))
        for i, seg in enumerate(self.segments):
            lo, m = seg.start, len(seg.pose)
            hi = lo + m
            if i == 0:
                pose[lo:hi], offset[lo:hi], heading[lo:hi] = seg.pose, seg.offset, seg.heading
            else:
                u = ramp(BLEND)
                a, b = lo, lo + BLEND
                # One arc per joint for the whole cross-fade (see _arm_pose).
                old = continuous_sign(pose[a:b], axis=0)
                new = continuous_sign(seg.pose[:BLEND], axis=0)
                new *= np.where(np.sum(old * new, axis=-1).sum(axis=0) < 0, -1.0, 1.0)[:, None]
                pose[a:b] = quat_slerp(old, new, u[:, None], shortest=False)
                offset[a:b] += u[:, None] * (seg.offset[:BLEND] - offset[a:b])
                heading[a:b] += u * (seg.heading[:BLEND] - heading[a:b])
                pose[b:hi], offset[b:hi], heading[b:hi] = seg.pose[BLEND:], seg.offset[BLEND:], seg.heading[BLEND:]
            inc[lo:hi] += np.diff(seg.disp, axis=0, prepend=np.zeros((1, 2)))
        anchor = self.start_pos + np.cumsum(inc, axis=0)
        self._apply_overlays(pose)
        return pose, offset, heading, anchor
