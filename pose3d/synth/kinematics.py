"""Quaternions and forward kinematics of the DeepMimic humanoid, vectorised over frames.

Quaternions are (w, x, y, z) and rotate column vectors; every function broadcasts over
leading axes, so a whole sequence is processed in one numpy call per joint.

The DeepMimic humanoid is kept in its own local frames (x forward, y up, z to the right,
limbs hanging along -y), but clips are stored with the root already turned into the
Human3.6M z-up world (see :data:`DM_TO_WORLD`), so only the root changes frame.
"""
from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- quaternions


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions; the sign is left alone."""
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(a.shape)
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (numpy's np.cross is slow on small arrays)."""
    u, v = np.broadcast_arrays(u, v)
    out = np.empty(u.shape)
    out[..., 0] = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    out[..., 1] = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    out[..., 2] = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return out


def quat_from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (radians) about ``axis`` (normalised here)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = 0.5 * np.asarray(angle, dtype=np.float64)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def quat_about(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation about a coordinate axis ('x', 'y' or 'z'), broadcast over ``angle``."""
    angle = np.asarray(angle, dtype=np.float64)
    out = np.zeros(angle.shape + (4,))
    out[..., 0] = np.cos(0.5 * angle)
    out[..., 1 + "xyz".index(axis)] = np.sin(0.5 * angle)
    return out


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    return np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (w >= 0) of rotation matrices, stable for every angle.

    Each of the four candidate formulas is evaluated and the best-conditioned one
    (largest diagonal term) is kept per element, so no branch runs per frame.
    """
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cands = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2],
                      m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22,
                      m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                      1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0],
                      m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )
    diag = np.stack([m00 + m11 + m22, m00, m11, m22], -1)
    best = np.argmax(diag, axis=-1)[..., None, None]
    q = np.take_along_axis(cands, np.broadcast_to(best, cands.shape[:-2] + (1, 4)), -2)[..., 0, :]
    q = quat_normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4)."""
    u = q[..., 1:]
    t = 2.0 * cross(u, v)
    return v + q[..., :1] * t + cross(u, t)


def quat_slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray, shortest: bool = True) -> np.ndarray:
    """Spherical interpolation from q0 (t=0) to q1 (t=1).

    Along the shorter arc by default. With ``shortest=False`` the arc follows the signs as
    given, which keeps a sequence of interpolations continuous in time when the two
    rotations pass 180 degrees apart (the shorter arc would jump to the other side).
    """
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    if shortest:
        q1 = np.where(dot < 0, -q1, q1)
        dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_t = np.sin(theta)
    near = (sin_t < 1e-6) & (dot > 0)
    safe = np.where(near, 1.0, sin_t)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(near, t, np.sin(t * theta) / safe)
    return quat_normalize(w0 * q0 + w1 * q1)


def quat_scale(q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Scale the rotation angle of ``q`` by ``s`` (slerp from identity), e.g. to damp a motion."""
    ident = np.zeros_like(q)
    ident[..., 0] = 1.0
    return quat_slerp(ident, q, s)


def quat_yaw(q: np.ndarray) -> np.ndarray:
    """Heading about world z of a root rotation (DeepMimic root frame: x forward, y up).

    The forward axis alone is undefined when the body lies on its back or front, so the
    up axis is mixed in: ``fwd_xy - fwd_z * up_xy`` points forward when standing, towards
    the feet when lying face up and towards the head when lying face down, which is the
    way the body faces after getting up. It never vanishes for a pitch within 90 degrees.
    """
    m = quat_to_matrix(q)
    h = m[..., :2, 0] - m[..., 2:3, 0] * m[..., :2, 1]
    return np.arctan2(h[..., 1], h[..., 0])


def continuous_sign(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` so that neighbouring quaternions lie in one hemisphere."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    if len(q) > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.concatenate([np.zeros((1,) + dots.shape[1:]), np.cumsum(dots < 0, axis=0)])
        q = np.where((flips % 2 == 1)[..., None], -q, q)
    return np.moveaxis(q, 0, axis)


# --------------------------------------------------------------------------- skeleton

#: Joints that carry a rotation in a DeepMimic frame, in file order after the root.
DM_JOINTS: tuple[str, ...] = (
    "root", "chest", "neck",
    "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
    "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow",
)
J = {name: i for i, name in enumerate(DM_JOINTS)}
DM_PARENTS: tuple[int, ...] = (-1, 0, 1, 0, 3, 4, 1, 6, 0, 8, 9, 1, 11)
#: Revolute joints (one angle about local z in the files).
DM_REVOLUTE: tuple[int, ...] = (J["right_knee"], J["right_elbow"], J["left_knee"], J["left_elbow"])

#: Offset of each joint in its parent's frame (metres), from humanoid3d_character.json.
DM_OFFSETS_M = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 0.236151, 0.0],
        [0.0, 0.223894, 0.0],
        [0.0, 0.0, 0.084887],
        [0.0, -0.421546, 0.0],
        [0.0, -0.40987, 0.0],
        [-0.02405, 0.2435, 0.18311],
        [0.0, -0.274788, 0.0],
        [0.0, 0.0, -0.084887],
        [0.0, -0.421546, 0.0],
        [0.0, -0.40987, 0.0],
        [-0.02405, 0.2435, -0.18311],
        [0.0, -0.274788, 0.0],
    ]
)
#: Wrist (a fixed joint) in the elbow frame.
DM_WRIST_OFFSET_M = np.array([0.0, -0.258947, 0.0])
#: Hip-joint-to-ankle length of the DeepMimic legs; root translations scale with it.
DM_LEG_M = 0.421546 + 0.40987

#: DeepMimic world (y up, x forward, z right) to Human3.6M world (z up), a proper rotation.
DM_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
DM_TO_WORLD_QUAT = matrix_to_quat(DM_TO_WORLD)


def global_rotations(local: np.ndarray) -> np.ndarray:
    """World rotation matrices (..., 13, 3, 3) from root-world + local quaternions (..., 13, 4)."""
    mats = quat_to_matrix(local)
    out = np.empty_like(mats)
    out[..., 0, :, :] = mats[..., 0, :, :]
    for j in range(1, len(DM_PARENTS)):
        out[..., j, :, :] = out[..., DM_PARENTS[j], :, :] @ mats[..., j, :, :]
    return out


def dm_positions(root_pos: np.ndarray, glob: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (..., 15, 3) of the DeepMimic skeleton: the 13 joints, then both wrists.

    ``scale`` (13,) multiplies each joint's offset from its parent (entry 0 unused; the
    elbow entry also scales the wrist), which is how a limb is lengthened or shortened.
    """
    scale = np.ones(len(DM_PARENTS)) if scale is None else np.asarray(scale, dtype=np.float64)
    offsets = DM_OFFSETS_M * scale[:, None]
    pos = np.empty(glob.shape[:-3] + (15, 3))
    pos[..., 0, :] = root_pos
    for j in range(1, len(DM_PARENTS)):
        p = DM_PARENTS[j]
        pos[..., j, :] = pos[..., p, :] + glob[..., p, :, :] @ offsets[j]
    for k, elbow in enumerate((J["right_elbow"], J["left_elbow"])):
        pos[..., 13 + k, :] = pos[..., elbow, :] + glob[..., elbow, :, :] @ (DM_WRIST_OFFSET_M * scale[elbow])
    return pos


# --------------------------------------------------------------------------- Human3.6M skeleton


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


# Directions of the Human3.6M head bones in the neck frame: up and forward to the "Head"
# joint (nose level), then up and back to the head-top site, which lands straight above the
# neck. The angles make S1's real bones (121.13 and 115.00 mm) span its real Neck->Site
# distance (181.88 mm, PoseAug template).
_NOSE_DIR = _unit([np.sin(np.radians(38.408)), np.cos(np.radians(38.408)), 0.0])
_TOP_DIR = _unit([-np.sin(np.radians(40.873)), np.cos(np.radians(40.873)), 0.0])
#: Angle between the two head bones; bodies.py uses it to split the Neck->Site distance.
HEAD_BEND_RAD = float(np.arccos(np.clip(_NOSE_DIR @ _TOP_DIR, -1, 1)))
# The ball of the foot lies forward and below the ankle; the toes point straight forward.
_TOE_BASE_DIR = _unit([np.cos(np.radians(28.0)), -np.sin(np.radians(28.0)), 0.0])
_TOE_DIR = np.array([1.0, 0.0, 0.0])
# The thumb site sits in front of the hand and a little down it (neutral palm faces the thigh).
_THUMB_DIR = _unit([0.8, -0.6, 0.0])
_DOWN = np.array([0.0, -1.0, 0.0])
_UP = np.array([0.0, 1.0, 0.0])
_RIGHT_DIR = np.array([0.0, 0.0, 1.0])
#: Directions from the neck to each shoulder in the chest frame (DeepMimic's offsets).
R_SHOULDER_DIR = _unit(DM_OFFSETS_M[J["right_shoulder"]] - DM_OFFSETS_M[J["neck"]])
L_SHOULDER_DIR = _unit(DM_OFFSETS_M[J["left_shoulder"]] - DM_OFFSETS_M[J["neck"]])

#: For each of the 32 Human3.6M joints: the DeepMimic segment whose frame orients the bone
#: from the joint's parent, and the bone direction in that frame. Joints with a zero-length
#: bone (duplicates in the real mocap) get a None direction.
H36M_BONE_FRAMES: tuple[tuple[int, np.ndarray | None], ...] = (
    (0, None),                              # 0 Hips
    (J["root"], _RIGHT_DIR),                # 1 RightUpLeg
    (J["right_hip"], _DOWN),                # 2 RightLeg
    (J["right_knee"], _DOWN),               # 3 RightFoot
    (J["right_ankle"], _TOE_BASE_DIR),      # 4 RightToeBase
    (J["right_ankle"], _TOE_DIR),           # 5 Site (toes)
    (J["root"], -_RIGHT_DIR),               # 6 LeftUpLeg
    (J["left_hip"], _DOWN),                 # 7 LeftLeg
    (J["left_knee"], _DOWN),                # 8 LeftFoot
    (J["left_ankle"], _TOE_BASE_DIR),       # 9 LeftToeBase
    (J["left_ankle"], _TOE_DIR),            # 10 Site (toes)
    (0, None),                              # 11 Spine = Hips
    (J["root"], _UP),                       # 12 Spine1
    (J["chest"], _UP),                      # 13 Neck
    (J["neck"], _NOSE_DIR),                 # 14 Head
    (J["neck"], _TOP_DIR),                  # 15 Site (head top)
    (J["chest"], _UP),                      # 16 LeftShoulder: a second Neck, from Spine1
    (J["chest"], L_SHOULDER_DIR),           # 17 LeftArm
    (J["left_shoulder"], _DOWN),            # 18 LeftForeArm
    (J["left_elbow"], _DOWN),               # 19 LeftHand
    (0, None),                              # 20 LeftHandThumb = LeftHand
    (J["left_elbow"], _THUMB_DIR),          # 21 Site (thumb)
    (J["left_elbow"], _DOWN),               # 22 L_Wrist_End
    (0, None),                              # 23 Site = L_Wrist_End (zero offset in the mocap)
    (J["chest"], _UP),                      # 24 RightShoulder: a second Neck, from Spine1
    (J["chest"], R_SHOULDER_DIR),           # 25 RightArm
    (J["right_shoulder"], _DOWN),           # 26 RightForeArm
    (J["right_elbow"], _DOWN),              # 27 RightHand
    (0, None),                              # 28 RightHandThumb = RightHand
    (J["right_elbow"], _THUMB_DIR),         # 29 Site (thumb)
    (J["right_elbow"], _DOWN),              # 30 R_Wrist_End
    (0, None),                              # 31 Site = R_Wrist_End
)


def h36m_positions(root_pos: np.ndarray, glob: np.ndarray, bone_lengths: np.ndarray,
                   parents: tuple[int, ...]) -> np.ndarray:
    """The 32 Human3.6M joints (..., 32, 3) from DeepMimic segment rotations.

    Each bone takes its direction from a DeepMimic segment frame and its length from
    ``bone_lengths`` (32,) (entry j is the bone from ``parents[j]`` to j), so every bone
    keeps exactly the subject's length in every frame, whatever the source skeleton was.
    """
    segs = [seg for seg, _ in H36M_BONE_FRAMES]
    dirs = np.stack([np.zeros(3) if d is None else d for _, d in H36M_BONE_FRAMES])
    bones = np.einsum("...jab,jb->...ja", glob[..., segs, :, :], dirs * np.asarray(bone_lengths)[:, None])
    pos = np.empty(glob.shape[:-3] + (32, 3))
    pos[..., 0, :] = root_pos
    for j in range(1, 32):
        pos[..., j, :] = pos[..., parents[j], :] + bones[..., j, :]
    return pos


# --------------------------------------------------------------------------- inverse kinematics


def two_bone_ik(target: np.ndarray, upper: float, lower: float, pole: np.ndarray,
                bend: float) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK for a DeepMimic limb (arm or leg), vectorised over frames.

    The limb hangs along -y of its root joint's frame and its middle joint is a hinge
    about local z; ``bend`` is +1 for an elbow (forearm swings forward) and -1 for a knee.
    ``target`` (..., 3) is the end point relative to the limb root, in the parent frame;
    ``pole`` (..., 3) is where the middle joint should point. Returns the limb root's
    rotation in its parent frame (..., 4) and the hinge angle (...). Out-of-reach targets
    are approached as closely as the bone lengths allow.
    """
    target = np.asarray(target, dtype=np.float64)
    d = np.linalg.norm(target, axis=-1)
    d = np.clip(d, abs(upper - lower) + 1e-3 * (upper + lower), (upper + lower) * (1 - 1e-4))
    cos_in = (upper ** 2 + lower ** 2 - d ** 2) / (2 * upper * lower)
    theta = bend * (np.pi - np.arccos(np.clip(cos_in, -1.0, 1.0)))
    end_local = np.stack([lower * np.sin(theta), -upper - lower * np.cos(theta), np.zeros_like(theta)], -1)
    u1 = end_local / np.linalg.norm(end_local, axis=-1, keepdims=True)
    z = np.broadcast_to(np.array([0.0, 0.0, 1.0]), u1.shape)
    n1 = bend * cross(u1, z)
    f_local = np.stack([u1, n1, cross(u1, n1)], -1)
    t_hat = target / np.maximum(np.linalg.norm(target, axis=-1, keepdims=True), 1e-9)
    pole = np.broadcast_to(np.asarray(pole, dtype=np.float64), t_hat.shape)
    p_perp = pole - np.sum(pole * t_hat, -1, keepdims=True) * t_hat
    # A pole along the target gives no plane; any perpendicular then does.
    alt = cross(t_hat, np.array([0.0, 0.0, 1.0]))
    weak = np.linalg.norm(p_perp, axis=-1, keepdims=True) < 1e-6
    p_perp = np.where(weak, alt, p_perp)
    p_perp = p_perp / np.linalg.norm(p_perp, axis=-1, keepdims=True)
    f_target = np.stack([t_hat, p_perp, cross(t_hat, p_perp)], -1)
    rot = f_target @ np.swapaxes(f_local, -1, -2)
    return matrix_to_quat(rot), theta
