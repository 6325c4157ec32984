"""Where the body goes: the capture area, walking paths through it, and world placement.

Paths are planned for the anchor (the floor point under the pelvis); :func:`place` then
puts the posed skeleton on its anchor and heading with its lowest part on the floor.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from pose3d.h36m.skeleton import DUPLICATES_32, PARENTS_32
from pose3d.synth import bodies
from pose3d.synth.kinematics import global_rotations, h36m_positions, quat_about, quat_mul
from pose3d.synth.signals import smoothstep, wrap_angle

#: Capture area that the root must stay in (mm, world x and y).
AREA_X_MM = (-1500.0, 1500.0)
AREA_Y_MM = (-1000.0, 1800.0)
#: Anchors keep this far from the area's edge, which leaves room for the pelvis sway
#: and for clips that move the body about its anchor.
MARGIN_MM = 350.0
#: Arc length (mm) over which a walking path's sharp corners are rounded for the heading.
_TURN_SMOOTH_MM = 250.0
#: Standing ankle height (mm) of a body with a shin of ANKLE_SHIN_MM; scales with the shin.
ANKLE_MM = 85.0
ANKLE_SHIN_MM = 450.0
# How far each Human3.6M joint reaches below its position (mm): the floor touches the
# lowest of these surfaces (soles when standing, the seat when sitting on the floor).
# The ankles' entry is the standing ankle height, scaled with the shin.
_GROUND_CLEARANCE_MM = {0: 105.0, 1: 95.0, 6: 95.0, 2: 55.0, 7: 55.0, 3: 85.0, 8: 85.0,
                        4: 12.0, 9: 12.0, 5: 12.0, 10: 12.0, 12: 95.0, 13: 85.0, 14: 85.0,
                        15: 85.0, 17: 55.0, 25: 55.0, 18: 40.0, 26: 40.0, 19: 35.0, 27: 35.0,
                        22: 20.0, 30: 20.0}


def anchor_box() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners (mm) of where anchors may go: the capture area less the margin."""
    return (np.array([AREA_X_MM[0] + MARGIN_MM, AREA_Y_MM[0] + MARGIN_MM]),
            np.array([AREA_X_MM[1] - MARGIN_MM, AREA_Y_MM[1] - MARGIN_MM]))


class Curve:
    """A cubic Bezier walking path, sampled by arc length."""

    def __init__(self, p0, h0: float, p3, h3: float, box: tuple[np.ndarray, np.ndarray], reach: float = 0.4):
        p0, p3 = np.asarray(p0, float), np.asarray(p3, float)
        dist = float(np.linalg.norm(p3 - p0))
        chord = float(np.arctan2(p3[1] - p0[1], p3[0] - p0[0]))
        # Arriving more than ~90 degrees off the chord would need a cusp.
        h3 = chord + float(np.clip(wrap_angle(h3 - chord), -1.6, 1.6))
        d0 = np.array([np.cos(h0), np.sin(h0)])
        d3 = np.array([np.cos(h3), np.sin(h3)])
        k0 = fit_in_box(p0, d0, reach * dist, box)
        k3 = fit_in_box(p3, -d3, reach * dist, box)
        if k3 < 0.5 * reach * dist:
            # The end heading would need a control point outside the area: turn it towards
            # the travel direction until one fits.
            for f in np.linspace(0.2, 1.0, 5):
                h = h3 + f * float(wrap_angle(chord - h3))
                d3 = np.array([np.cos(h), np.sin(h)])
                k3 = fit_in_box(p3, -d3, reach * dist, box)
                if k3 >= 0.5 * reach * dist:
                    break
        ctrl = np.stack([p0, p0 + max(k0, 1.0) * d0, p3 - max(k3, 1.0) * d3, p3])
        u = np.linspace(0.0, 1.0, 257)[:, None]
        pts = ((1 - u) ** 3 * ctrl[0] + 3 * (1 - u) ** 2 * u * ctrl[1]
               + 3 * (1 - u) * u ** 2 * ctrl[2] + u ** 3 * ctrl[3])
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        self.s = np.concatenate([[0.0], np.cumsum(seg)])
        self.pts = pts
        tan = np.diff(pts, axis=0)
        ang = np.unwrap(np.arctan2(tan[:, 1], tan[:, 0]))
        ang = np.concatenate([ang[:1], 0.5 * (ang[1:] + ang[:-1]), ang[-1:]])
        ang[0], ang[-1] = np.arctan2(*(ctrl[1] - ctrl[0])[::-1]), np.arctan2(*(ctrl[3] - ctrl[2])[::-1])
        ang = ang[0] + np.concatenate([[0.0], np.cumsum(wrap_angle(np.diff(ang)))])
        ang = ang + 2 * np.pi * np.round((h0 - ang[0]) / (2 * np.pi))
        # Sharp corners (a short control arm) turn the tangent within millimetres; the body
        # turns over a few steps instead. The start and end headings stay exact (they join
        # the neighbouring segments) and the smoothing fades in away from them.
        sigma = _TURN_SMOOTH_MM / max(float(self.s[-1]) / (len(self.s) - 1), 1e-6)
        smooth = gaussian_filter1d(ang, sigma, mode="nearest") if sigma > 0.5 else ang
        fade_in = 1.0 - smoothstep(self.s / (2.5 * _TURN_SMOOTH_MM))
        fade_out = 1.0 - smoothstep((self.s[-1] - self.s) / (2.5 * _TURN_SMOOTH_MM))
        self.angle = smooth + fade_in * (ang[0] - smooth[0]) + fade_out * (ang[-1] - smooth[-1])
        self.length = float(self.s[-1])

    def at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Anchor (mm) and heading (rad) at arc lengths ``s``, clamped to the path."""
        s = np.clip(s, 0.0, self.length)
        xy = np.stack([np.interp(s, self.s, self.pts[:, 0]), np.interp(s, self.s, self.pts[:, 1])], -1)
        return xy, np.interp(s, self.s, self.angle)


def fit_in_box(p: np.ndarray, d: np.ndarray, k: float, box) -> float:
    """Largest step <= k along d from p that stays in the box."""
    lo, hi = box
    for axis in range(2):
        if d[axis] > 1e-9:
            k = min(k, (hi[axis] - p[axis]) / d[axis])
        elif d[axis] < -1e-9:
            k = min(k, (lo[axis] - p[axis]) / d[axis])
    return max(k, 0.0)


def place(pose: np.ndarray, offset: np.ndarray, heading: np.ndarray, anchor: np.ndarray,
          body: bodies.Body) -> np.ndarray:
    """World joint positions (n, 32, 3) in mm: subject's bones, feet on the floor."""
    n = len(pose)
    yaw = quat_about("z", heading)
    local = pose.copy()
    local[:, 0] = quat_mul(yaw, pose[:, 0])
    glob = global_rotations(local)
    rel = h36m_positions(np.zeros((n, 3)), glob, body.bone_mm, PARENTS_32)
    idx = np.array(list(_GROUND_CLEARANCE_MM))
    clear = np.array([_GROUND_CLEARANCE_MM[j] * (body.shin_mm / ANKLE_SHIN_MM if j in (3, 8) else 1.0)
                      for j in idx])
    lowest = np.min(rel[:, idx, 2] - clear, axis=1)
    height = gaussian_filter1d(-lowest, 1.5, mode="nearest")
    c, s = np.cos(heading), np.sin(heading)
    root = np.stack([anchor[:, 0] + c * offset[:, 0] - s * offset[:, 1],
                     anchor[:, 1] + s * offset[:, 0] + c * offset[:, 1], height], -1)
    out = rel + root[:, None, :]
    for j, twin in DUPLICATES_32.items():
        out[:, j] = out[:, twin]
    return out
