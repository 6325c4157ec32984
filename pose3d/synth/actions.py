"""One recipe per Human3.6M action: which real clips, which procedural edits, in what rhythm.

A recipe drives a :class:`pose3d.synth.builder.Builder` until the sequence is long enough.
Every choice comes from the builder's random generator, so a recipe is deterministic in
(seed, subject, action, sub-action) and differs between sub-actions and subjects.

Clips used (see motion_library.CLIPS): long_walk1-3, walk and walk_forward for walking;
stealthy_walk for WalkDog's crouched stretches; getup_faceup and getup_facedown (also
played backwards) for SittingDown; dance_a, dance_b, dance_spin, punch and kick (slowed
down) for Posing; dance_b, walk and punch, heavily damped, as the "texture" that keeps standing and
sitting bodies moving like real ones.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from pose3d.synth.builder import BLEND, ArmTarget, Builder
from pose3d.synth.clips import upright_time
from pose3d.synth.signals import FPS, wrap_angle

R, L = +1, -1
WALK_CLIPS = ("long_walk1", "long_walk2", "long_walk3", "walk", "walk_forward")
_WALK_P = (0.35, 0.3, 0.1, 0.125, 0.125)

# Wrist targets, written for the right arm of an S1-sized body (see ArmTarget).
PHONE = ArmTarget("neck", (35.0, 25.0, 95.0), pole=(0.3, -1.0, 0.7), wobble=(8, 8, 5))
MOUTH = ArmTarget("neck", (165.0, -5.0, 45.0), pole=(0.2, -1.0, 0.9), wobble=(10, 10, 10))
CAMERA = ArmTarget("neck", (235.0, 85.0, 90.0), pole=(0.0, -1.0, 1.0), wobble=(10, 10, 6))
CHIN = ArmTarget("neck", (135.0, -45.0, 15.0), pole=(0.5, -1.0, 0.3), wobble=(8, 8, 8))
TEXTING = ArmTarget("chest", (280.0, 110.0, 45.0), pole=(-0.3, -1.0, 0.5), wobble=(15, 15, 10))
CIGARETTE = ArmTarget("chest", (240.0, -40.0, 190.0), pole=(-0.5, -1.0, 0.4), wobble=(25, 25, 20))
TABLE = ArmTarget("chest", (330.0, -60.0, 130.0), pole=(-0.4, -1.0, 0.6), wobble=(40, 15, 30))
CARRY = ArmTarget("chest", (280.0, 90.0, 95.0), pole=(-0.3, -1.0, 0.6), wobble=(15, 15, 10))
CROSSED = ArmTarget("chest", (170.0, 70.0, -115.0), pole=(0.0, -1.0, 0.8), wobble=(6, 6, 6))
WATCH = ArmTarget("chest", (260.0, 150.0, 15.0), pole=(-0.2, -1.0, 0.8), wobble=(5, 5, 5))
GESTURE = ArmTarget("chest", (250.0, 120.0, 170.0), pole=(-0.2, -1.0, 0.6),
                    wobble=(110.0, 100.0, 90.0), wobble_hz=(0.4, 1.4))
WAVE = ArmTarget("chest", (70.0, 560.0, 320.0), pole=(0.0, -1.0, 1.0), wave=(0.0, 0.0, 95.0), wave_hz=2.0)
HANDSHAKE = ArmTarget("chest", (420.0, 70.0, 60.0), pole=(-0.2, -1.0, 0.5), wave=(0.0, 30.0, 0.0), wave_hz=2.5)
CLASP_FRONT = ArmTarget("root", (170.0, 60.0, 25.0), pole=(-0.3, -1.0, 0.5), wobble=(8, 8, 5))
CLASP_BACK = ArmTarget("root", (-150.0, 80.0, 35.0), pole=(-0.2, -1.0, 1.0), wobble=(5, 5, 5))
ON_HIP = ArmTarget("root", (-10.0, 115.0, 190.0), pole=(-0.4, 0.0, 1.0), wobble=(5, 5, 5))
BEHIND_HEAD = ArmTarget("neck", (-70.0, 160.0, 70.0), pole=(0.0, 0.5, 1.0), wobble=(5, 5, 5))
FLEX = ArmTarget("chest", (0.0, 430.0, 340.0), pole=(0.0, -1.0, 1.0), wobble=(10, 10, 10))
LEASH = ArmTarget("shoulder", (0.7, -0.62, 0.2), pole=(-0.2, -1.0, 0.4), wobble=(45.0, 45.0, 30.0))
REACH_LOW = ArmTarget("shoulder", (0.45, -0.85, 0.12), pole=(-0.3, -0.3, 1.0), wobble=(20, 20, 20))
REACH_SHELF = ArmTarget("shoulder", (0.82, 0.45, 0.12), pole=(0.0, -1.0, 0.5), wobble=(25, 25, 25))
ARMS_UP = ArmTarget("shoulder", (0.15, 0.88, 0.42), pole=(-0.5, 0.0, 1.0), wobble=(10, 10, 10))
ARM_OUT = ArmTarget("shoulder", (0.05, 0.05, 0.97), pole=(0.0, -1.0, 0.0), wobble=(10, 10, 10))


def point(rng: np.random.Generator) -> ArmTarget:
    """Pointing the arm out at a random direction (forward to sideways, level to raised)."""
    yaw = rng.uniform(-0.3, 1.3)
    up = rng.uniform(-0.35, 0.45)
    d = np.array([np.cos(yaw) * np.cos(up), np.sin(up), np.sin(yaw) * np.cos(up)]) * 0.97
    return ArmTarget("shoulder", tuple(d), pole=(0.0, -1.0, 0.3), wobble=(15, 15, 15))


def _turn(b: Builder, lo: float = 0.4, hi: float = 1.6) -> float:
    """A turn on the spot (radians) to either side, so that every camera gets every side."""
    return float(b.rng.choice([-1.0, 1.0]) * b.rng.uniform(lo, hi))


def _clip(b: Builder) -> str:
    return str(b.rng.choice(WALK_CLIPS, p=_WALK_P))


def _side(b: Builder, p_right: float = 0.5) -> int:
    return R if b.rng.random() < p_right else L


def _both(b: Builder, target: ArmTarget, n: int, start: int | None = None, fade: int = 25) -> None:
    b.arm(R, target, n, start, fade)
    b.arm(L, target, n, start, fade)


def _face_center(b: Builder, spread: float = 0.8) -> float:
    """Turn (radians) that faces the body roughly towards the middle of the area."""
    to = b.center - b.pos
    return float(wrap_angle(np.arctan2(to[1], to[0]) - b.heading + b.rng.uniform(-spread, spread)))


def _short_walk(b: Builder, lo: float, hi: float, speed: float, **kw) -> None:
    b.walk(to=b.pick_target(lo, hi), clip=_clip(b), speed=speed, **kw)


# ----------------------------------------------------------------------------- walking


def walking(b: Builder) -> None:
    """Walking back and forth across the area on a loop (oval, either sense), normal pace."""
    rng = b.rng
    speed = rng.uniform(0.92, 1.08)
    axis = rng.uniform(-0.45, 0.45) + (np.pi / 2 if rng.random() < 0.2 else 0.0)
    u = np.array([np.cos(axis), np.sin(axis)])
    v = np.array([-u[1], u[0]])
    half = _half_span(b, u)
    sense = 1.0 if rng.random() < 0.5 else -1.0
    clip = _clip(b)
    end = 1 if (b.pos - b.center) @ u < 0 else 0
    first = True
    while not b.done:
        end = 1 - end
        sign = 1.0 if end else -1.0
        target = b.center + u * sign * half * rng.uniform(0.85, 1.0) + v * rng.uniform(-250, 250)
        if rng.random() < 0.15:
            sense = -sense
        if rng.random() < 0.3:
            clip = _clip(b)
        travel = np.arctan2(sign * u[1], sign * u[0])
        b.walk(to=target, end_heading=travel + sense * np.pi / 2, clip=clip,
               speed=speed * rng.uniform(0.95, 1.05), reach=rng.uniform(0.45, 0.7),
               turn_first=1.3 if first else 2.8)
        first = False


def _half_span(b: Builder, u: np.ndarray) -> float:
    lo, hi = b.box
    limits = [((hi[k] if u[k] > 0 else lo[k]) - b.center[k]) / u[k] for k in range(2) if abs(u[k]) > 1e-6]
    return 0.92 * min(limits)


def walk_together(b: Builder) -> None:
    """A slower walk beside someone: chest and head turned to the companion, a few stops."""
    rng = b.rng
    side = 1.0 if rng.random() < 0.5 else -1.0
    twist, look = side * rng.uniform(12, 25), side * rng.uniform(15, 35)
    speed = rng.uniform(0.72, 0.86)
    clip = _clip(b)
    while not b.done:
        if rng.random() < 0.15:
            n = b.seconds(2.0, 4.5)
            if rng.random() < 0.6:
                b.arm(_side(b), GESTURE, n - 40, b.cursor + 20)
            b.stand(n, turn=side * rng.uniform(0.6, 1.2), look=0.6)
            side = -side if rng.random() < 0.3 else side
            twist, look = abs(twist) * side, abs(look) * side
        if rng.random() < 0.25:
            clip = _clip(b)
        b.walk(clip=clip, speed=speed * rng.uniform(0.93, 1.07), twist=twist * rng.uniform(0.8, 1.1),
               look=look * rng.uniform(0.7, 1.2), reach=rng.uniform(0.4, 0.65))


def walk_dog(b: Builder) -> None:
    """Bent forward, one arm held low on a leash, irregular pace, stops and crouched stretches."""
    rng = b.rng
    side = _side(b, 0.7)
    b.arm(side, LEASH, b.n_frames + 4 * BLEND, start=0, fade=1)
    while not b.done:
        r = rng.random()
        if r < 0.2:
            b.stand(b.seconds(1.5, 4.0), bend=rng.uniform(20, 40), crouch=rng.uniform(0, 120),
                    turn=rng.uniform(-1.0, 1.0), look=0.4)
        elif r < 0.35:
            b.walk(to=b.pick_target(900, 1800), clip="stealthy_walk", speed=rng.uniform(0.9, 1.2),
                   lean=rng.uniform(5, 15))
        else:
            b.walk(to=b.pick_target(1000, 2400, 1.4), clip=_clip(b), speed=rng.uniform(0.68, 0.9),
                   lean=rng.uniform(15, 28), look=rng.uniform(-20, 20))


# ----------------------------------------------------------------------------- standing


def directions(b: Builder) -> None:
    """Standing and pointing the way (one or both arms), short walks and turns."""
    rng = b.rng
    while not b.done:
        n = b.seconds(3.0, 7.0)
        t = b.cursor + 20
        while t < b.cursor + n - 80:
            k = int(rng.uniform(1.2, 2.6) * FPS)
            side = _side(b)
            b.arm(side, point(rng), k, t)
            if rng.random() < 0.2:
                b.arm(-side, GESTURE, k, t)
            t += k + int(rng.uniform(0.4, 2.0) * FPS)
        b.stand(n, turn=_turn(b), look=1.2)
        if rng.random() < 0.6:
            _short_walk(b, 900, 2200, rng.uniform(0.9, 1.05))


def discussion(b: Builder) -> None:
    """Talking with both hands, turning between partners, weight shifts, a few steps."""
    rng = b.rng
    while not b.done:
        n = b.seconds(5.0, 12.0)
        r = rng.random()
        if r < 0.2:
            _both(b, ON_HIP if rng.random() < 0.5 else CROSSED, n - 60, b.cursor + 30)
        else:
            t = b.cursor + 15
            while t < b.cursor + n - 60:
                k = int(rng.uniform(1.5, 4.0) * FPS)
                if rng.random() < 0.4:
                    _both(b, GESTURE, k, t)
                else:
                    b.arm(_side(b), GESTURE, k, t)
                t += k + int(rng.uniform(0.2, 1.5) * FPS)
        b.stand(n, turn=_turn(b, 0.4, 1.5), shift=1.3, look=0.8,
                texture="punch", amount=0.12)
        if rng.random() < 0.25:
            _short_walk(b, 600, 1500, rng.uniform(0.8, 0.95))


def greeting(b: Builder) -> None:
    """Walking up to people, waving, shaking hands, bowing, walking on."""
    rng = b.rng
    while not b.done:
        b.walk(clip=_clip(b), speed=rng.uniform(0.95, 1.1))
        r = rng.random()
        n = b.seconds(2.5, 5.0)
        if r < 0.4:
            b.arm(_side(b, 0.75), WAVE, n - 50, b.cursor + 10)
            b.stand(n, look=0.5)
        elif r < 0.75:
            b.arm(R, HANDSHAKE, n - 50, b.cursor + 15)
            b.stand(n, bend=rng.uniform(0, 12), look=0.3)
        elif r < 0.9:
            b.stand(b.seconds(1.2, 2.0), bend=rng.uniform(20, 35), look=0.2)
        else:
            k = b.seconds(2.0, 3.5)
            b.arm(_side(b, 0.75), WAVE, k - 30, b.cursor + 10)
            b.walk(clip=_clip(b), speed=rng.uniform(0.9, 1.05), max_frames=k)
        if rng.random() < 0.5:
            k = b.seconds(2.0, 5.0)
            b.arm(_side(b), GESTURE, k - 40, b.cursor + 20)
            b.stand(k, turn=rng.uniform(-0.8, 0.8))


def phoning(b: Builder) -> None:
    """A phone held at one ear for long stretches, standing or walking slowly."""
    rng, tr = b.rng, b.timing_rng
    side = _side(b, 0.8)
    t = 0
    while t < b.n_frames + 2 * BLEND:
        k = int(tr.uniform(9.0, 25.0) * FPS)
        b.arm(side, PHONE, k, t, fade=35)
        t += k + 35
        gap = int(tr.uniform(2.0, 5.0) * FPS)
        if tr.random() < 0.5:
            b.arm(side, TEXTING, gap - 40, t + 5)
        t += gap
        if tr.random() < 0.15:
            side = -side
    while not b.done:
        if rng.random() < 0.55:
            n = b.seconds(4.0, 10.0)
            if rng.random() < 0.35:
                b.arm(-side, ON_HIP if rng.random() < 0.5 else GESTURE, n - 60, b.cursor + 30)
            b.stand(n, turn=_turn(b, 0.3, 1.5), look=0.6, shift=1.2)
        else:
            b.walk(to=b.pick_target(900, 2200), clip=_clip(b), speed=rng.uniform(0.6, 0.8),
                   look=rng.uniform(-15, 15))


def smoking(b: Builder) -> None:
    """Standing, the cigarette hand brought to the mouth now and then, a few short walks."""
    rng, tr = b.rng, b.timing_rng
    side = _side(b, 0.75)
    b.arm(side, CIGARETTE, b.n_frames + 4 * BLEND, start=0, fade=1)
    t = int(tr.uniform(1.0, 4.0) * FPS)
    while t < b.n_frames + BLEND:
        k = int(tr.uniform(1.3, 2.5) * FPS)
        b.arm(side, MOUTH, k, t, fade=30)
        t += k + int(tr.uniform(4.0, 11.0) * FPS)
    while not b.done:
        n = b.seconds(5.0, 12.0)
        if rng.random() < 0.5:
            b.arm(-side, CROSSED if rng.random() < 0.5 else ON_HIP, n - 50, b.cursor + 25)
        b.stand(n, turn=_turn(b, 0.3, 1.5), look=1.0, shift=1.2)
        if rng.random() < 0.3:
            _short_walk(b, 700, 1800, rng.uniform(0.8, 0.95))


def waiting(b: Builder) -> None:
    """Standing about: big weight shifts, hands clasped/crossed/on hips, looking around."""
    rng = b.rng
    holds = (CLASP_FRONT, CLASP_BACK, CROSSED, ON_HIP, None)
    while not b.done:
        n = b.seconds(5.0, 14.0)
        hold = holds[int(rng.integers(len(holds)))]
        if hold is not None:
            _both(b, hold, n - 50, b.cursor + 25, fade=35)
        elif rng.random() < 0.5:
            b.arm(L, WATCH, b.seconds(1.5, 2.5), b.cursor + 40)
        b.stand(n, turn=_turn(b, 0.3, 1.6), shift=1.6, look=1.4, stance=0.8)
        if rng.random() < 0.3:
            _short_walk(b, 500, 1300, rng.uniform(0.75, 0.9))


def photo(b: Builder) -> None:
    """Both hands holding a camera at the face, turning slowly, crouching, moving on."""
    rng = b.rng
    while not b.done:
        n = b.seconds(3.0, 8.0)
        _both(b, CAMERA, n - 40, b.cursor + 20, fade=30)
        crouch = rng.uniform(150, 380) if rng.random() < 0.3 else 0.0
        b.stand(n, turn=_turn(b, 0.5, 1.8), crouch=crouch, bend=rng.uniform(0, 15), look=0.2)
        if rng.random() < 0.5:
            k = b.seconds(1.5, 3.0)
            _both(b, CARRY, k - 30, b.cursor + 10)
            b.stand(k, turn=rng.uniform(-0.6, 0.6))
        if rng.random() < 0.45:
            _short_walk(b, 800, 2000, rng.uniform(0.85, 1.0))


def posing(b: Builder) -> None:
    """Held poses (arms up, hands on hips, flexing...) between dance-like clips and turns."""
    rng = b.rng
    poses = ((ARMS_UP, ARMS_UP), (ON_HIP, ON_HIP), (ARM_OUT, ARM_OUT), (FLEX, FLEX),
             (BEHIND_HEAD, BEHIND_HEAD), (ARMS_UP, ON_HIP), (CROSSED, CROSSED), (ARM_OUT, None))
    # (clip, slowest and fastest playback speed, shortest and longest real duration in s).
    clips = (("dance_b", 0.55, 0.85, 3.0, 6.0), ("dance_a", 0.35, 0.5, 2.5, 4.5),
             ("dance_spin", 0.3, 0.42, 2.0, 3.5), ("punch", 0.5, 0.7, 1.6, 2.1),
             ("kick", 0.3, 0.4, 1.2, 1.5))
    while not b.done:
        if rng.random() < 0.55:
            n = b.seconds(2.5, 5.5)
            right, left = poses[int(rng.integers(len(poses)))]
            if rng.random() < 0.5:
                right, left = left, right
            for side, tgt in ((R, right), (L, left)):
                if tgt is not None:
                    b.arm(side, tgt, n - 40, b.cursor + 20, fade=30)
            b.stand(n, turn=rng.uniform(-1.2, 1.2), crouch=rng.uniform(0, 200) if rng.random() < 0.3 else 0.0,
                    bend=rng.uniform(-5, 15), stance=rng.uniform(1.0, 2.5), look=0.3, shift=0.5)
        else:
            name, s0, s1, d0, d1 = clips[int(rng.integers(len(clips)))]
            clip = b.lib[name]
            speed = rng.uniform(s0, s1)
            dur = rng.uniform(d0, d1) * speed
            latest = clip.duration_s if clip.loop else max(clip.duration_s - dur, 0.0)
            start = rng.uniform(0, latest)
            start = upright_time(clip, start)
            end = upright_time(clip, start + dur)
            b.play(name, start, end, speed=speed, travel=0.5)
        if rng.random() < 0.25:
            _short_walk(b, 700, 1600, rng.uniform(0.9, 1.05))


def purchases(b: Builder) -> None:
    """Walking between shelves, reaching up, bending down to pick things, carrying them."""
    rng = b.rng
    carrying = False
    while not b.done:
        k0 = b.cursor
        b.walk(clip=_clip(b), speed=rng.uniform(0.82, 1.0))
        if carrying:
            b.arm(_side(b), CARRY, b.cursor - k0 - 30, k0 + 15)
        r = rng.random()
        n = b.seconds(2.5, 5.0)
        side = _side(b, 0.7)
        if r < 0.35:
            b.arm(side, REACH_SHELF, n - 60, b.cursor + 30)
            b.stand(n, look=0.4)
        elif r < 0.7:
            b.arm(side, REACH_LOW, n - 70, b.cursor + 35)
            b.stand(n, bend=rng.uniform(35, 60), crouch=rng.uniform(80, 300), look=0.3)
        else:
            _both(b, CARRY, n - 40, b.cursor + 20)
            b.stand(n, turn=rng.uniform(-0.8, 0.8), bend=rng.uniform(5, 15), look=0.3)
        carrying = rng.random() < 0.4


# ----------------------------------------------------------------------------- sitting


_SIT_LEGS = ("normal", "normal", "wide", "forward", "tucked", "ankles", "cross", "cross_left")


def sitting(b: Builder) -> None:
    """On a chair: legs crossed or not, leaning back or forward, talking, thinking, resting."""
    rng = b.rng
    while not b.done:
        n = b.seconds(6.0, 15.0)
        r = rng.random()
        if r < 0.3:
            t = b.cursor + 25
            while t < b.cursor + n - 80:
                k = int(rng.uniform(1.5, 4.0) * FPS)
                b.arm(_side(b), GESTURE, k, t)
                t += k + int(rng.uniform(0.5, 2.5) * FPS)
        elif r < 0.5:
            b.arm(_side(b), CHIN, n - 80, b.cursor + 40)
        elif r < 0.65:
            _both(b, CROSSED, n - 70, b.cursor + 35)
        b.sit(n, legs=str(rng.choice(_SIT_LEGS)), lean=rng.uniform(-5, 15), recline=rng.uniform(0, 18),
              turn=_turn(b, 0.2, 1.4), seat=rng.uniform(-30, 40), look=1.0)


def eating(b: Builder) -> None:
    """Seated at a table, leaning in, bringing food to the mouth with either hand."""
    rng = b.rng
    main = _side(b, 0.7)
    b.arm(-main, TABLE, b.n_frames + 4 * BLEND, start=0, fade=1)
    b.arm(main, TABLE, b.n_frames + 4 * BLEND, start=0, fade=1)
    tr = b.timing_rng
    t = int(tr.uniform(0.5, 2.5) * FPS)
    while t < b.n_frames + BLEND:
        k = int(tr.uniform(1.0, 2.0) * FPS)
        b.arm(main if tr.random() < 0.8 else -main, MOUTH, k, t, fade=28)
        t += k + int(tr.uniform(2.0, 6.0) * FPS)
    legs = ("normal", "normal", "ankles", "tucked", "wide")
    while not b.done:
        n = b.seconds(8.0, 18.0)
        b.sit(n, legs=legs[int(rng.integers(len(legs)))], lean=rng.uniform(10, 22), recline=rng.uniform(0, 6),
              turn=_turn(b, 0.2, 1.2), seat=rng.uniform(-20, 30), look=0.4, hands="none")


def sitting_down(b: Builder) -> None:
    """Sitting down on the floor and getting up again, sometimes lying down face down."""
    rng = b.rng
    while not b.done:
        b.stand(b.seconds(1.5, 4.0), turn=_face_center(b), look=0.6)
        if rng.random() < 0.3:
            _short_walk(b, 700, 1600, rng.uniform(0.85, 1.0))
            b.stand(b.seconds(1.0, 2.0), turn=_face_center(b))
        speed = rng.uniform(0.55, 0.8)
        mirror = bool(rng.integers(2))
        if rng.random() < 0.7:
            seat = rng.uniform(2.15, 2.35)
            b.play("getup_faceup", 3.76, seat, speed=speed, mirror=mirror)
            n = b.seconds(3.0, 10.0)
            if rng.random() < 0.4:
                b.arm(_side(b), GESTURE, n - 80, b.cursor + 40)
            b.hold_clip("getup_faceup", seat, n, mirror=mirror)
            b.play("getup_faceup", seat, 3.76, speed=rng.uniform(0.55, 0.8), mirror=mirror)
        else:
            low = rng.uniform(0.2, 0.5)
            b.play("getup_facedown", 3.0, low, speed=speed, mirror=mirror)
            b.hold_clip("getup_facedown", low, b.seconds(2.0, 5.0), mirror=mirror, amount=0.08)
            b.play("getup_facedown", low, 3.0, speed=rng.uniform(0.55, 0.8), mirror=mirror)


#: Every library clip a recipe can use (the motion library must hold them all).
CLIPS_USED: frozenset[str] = frozenset(WALK_CLIPS) | {
    "stealthy_walk", "getup_faceup", "getup_facedown", "dance_a", "dance_b", "dance_spin",
    "punch", "kick",
}

RECIPES: dict[str, Callable[[Builder], None]] = {
    "Directions": directions,
    "Discussion": discussion,
    "Eating": eating,
    "Greeting": greeting,
    "Phoning": phoning,
    "Photo": photo,
    "Posing": posing,
    "Purchases": purchases,
    "Sitting": sitting,
    "SittingDown": sitting_down,
    "Smoking": smoking,
    "Waiting": waiting,
    "WalkDog": walk_dog,
    "Walking": walking,
    "WalkTogether": walk_together,
}
