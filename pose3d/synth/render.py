"""Renders the synthetic body as the real cameras would see it: a shaded mannequin in a room.

Every pixel is a ray of the calibrated camera, undistorted once per camera with the
Human3.6M model, so the images agree with ``D2_Positions`` (the projection of the same
joints) to the pixel, lens distortion included. The body is a set of capsules (bones)
whose ray hits are solved in closed form; a z-buffer that starts at the distance to
the floor and walls keeps every occlusion exact. The room (checkerboard floor on z = 0,
panelled walls) is fixed per camera and drawn once.

Video pixels relate to the original image by pixel centres:
``x_video = (u + 0.5) * width / camera.width_px - 0.5`` (and the same for y), which is
what an image resize does.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pose3d.geometry.camera import Camera
from pose3d.geometry.projection import project_camera, undistort_pixels, world_to_camera
from pose3d.h36m.cameras import get_camera

#: The room around the capture area (world mm): every camera stands inside it.
ROOM_MIN_MM = np.array([-4500.0, -6500.0, 0.0])
ROOM_MAX_MM = np.array([4500.0, 6500.0, 4000.0])
FLOOR_TILE_MM = 500.0
#: Light direction in the world (towards the light), from above and a little to one side.
LIGHT_WORLD = np.array([0.35, -0.45, 1.0]) / np.linalg.norm([0.35, -0.45, 1.0])

SKIN, SHOES, HAIR = (0.86, 0.67, 0.55), (0.16, 0.16, 0.18), (0.22, 0.16, 0.12)
#: (shirt, trousers) per subject; the colours differ between subjects as clothes do.
_CLOTHES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "S1": ((0.75, 0.22, 0.20), (0.20, 0.24, 0.40)),
    "S2": ((0.30, 0.55, 0.30), (0.25, 0.22, 0.20)),
    "S3": ((0.85, 0.75, 0.30), (0.18, 0.18, 0.22)),
    "S4": ((0.40, 0.30, 0.60), (0.35, 0.33, 0.30)),
    "S5": ((0.90, 0.90, 0.88), (0.15, 0.15, 0.18)),
    "S6": ((0.20, 0.45, 0.70), (0.40, 0.36, 0.30)),
    "S7": ((0.60, 0.20, 0.45), (0.22, 0.25, 0.30)),
    "S8": ((0.25, 0.60, 0.55), (0.30, 0.25, 0.22)),
    "S9": ((0.85, 0.50, 0.20), (0.18, 0.20, 0.30)),
    "S10": ((0.50, 0.50, 0.52), (0.12, 0.12, 0.14)),
    "S11": ((0.30, 0.30, 0.75), (0.45, 0.40, 0.35)),
}

# Capsules over the 32 official joints: (joint a, joint b, fraction a, fraction b, radius mm,
# part). The end points are a + f * (b - a), so a capsule may cover part of a bone.
_CAPSULES: tuple[tuple[int, int, float, float, float, str], ...] = (
    (1, 6, 0.0, 1.0, 100.0, "trousers"),     # pelvis
    (0, 12, 0.0, 1.0, 118.0, "shirt"),       # belly
    (12, 13, 0.0, 0.85, 112.0, "shirt"),     # chest
    (1, 25, 0.1, 0.82, 80.0, "shirt"),       # right flank
    (6, 17, 0.1, 0.82, 80.0, "shirt"),       # left flank
    (17, 25, 0.0, 1.0, 62.0, "shirt"),       # shoulders
    (13, 14, 0.0, 0.7, 50.0, "skin"),        # neck
    (14, 15, 0.0, 0.5, 98.0, "skin"),        # head
    (1, 2, 0.0, 1.0, 76.0, "trousers"),      # right thigh
    (6, 7, 0.0, 1.0, 76.0, "trousers"),
    (2, 3, 0.0, 1.0, 55.0, "trousers"),      # right shin
    (7, 8, 0.0, 1.0, 55.0, "trousers"),
    (3, 4, 0.0, 1.0, 44.0, "shoes"),         # right foot
    (8, 9, 0.0, 1.0, 44.0, "shoes"),
    (4, 5, 0.0, 0.8, 34.0, "shoes"),         # right toes
    (9, 10, 0.0, 0.8, 34.0, "shoes"),
    (25, 26, 0.0, 1.0, 50.0, "shirt"),       # right upper arm
    (17, 18, 0.0, 1.0, 50.0, "shirt"),
    (26, 27, 0.0, 1.0, 39.0, "skin"),        # right forearm
    (18, 19, 0.0, 1.0, 39.0, "skin"),
    (27, 30, 0.0, 0.8, 36.0, "skin"),        # right hand
    (19, 22, 0.0, 0.8, 36.0, "skin"),
    (28, 29, 0.0, 0.8, 17.0, "skin"),        # right thumb
    (20, 21, 0.0, 0.8, 17.0, "skin"),
)
#: Capsules placed each frame from the way the chest faces: (part, radius mm).
_FACE_CAPSULES: tuple[tuple[str, float], ...] = (("hair", 96.0), ("skin", 22.0))


@dataclass(frozen=True)
class BodyStyle:
    """Colours (RGB in 0..1) of one subject's mannequin."""

    shirt: tuple[float, float, float]
    trousers: tuple[float, float, float]
    skin: tuple[float, float, float] = SKIN
    shoes: tuple[float, float, float] = SHOES
    hair: tuple[float, float, float] = HAIR

    @classmethod
    def for_subject(cls, subject: str) -> "BodyStyle":
        shirt, trousers = _CLOTHES.get(subject, _CLOTHES["S1"])
        return cls(shirt, trousers)


def video_size(camera: Camera, scale: float) -> tuple[int, int]:
    """(width, height) of a video at ``scale``, both even (yuv420p needs even sizes)."""
    if not 0 < scale <= 1:
        raise ValueError(f"video scale must be in (0, 1], got {scale!r}")
    return (max(2, 2 * round(camera.width_px * scale / 2)), max(2, 2 * round(camera.height_px * scale / 2)))


def to_video_pixels(uv: np.ndarray, camera: Camera, width: int, height: int) -> np.ndarray:
    """Original-image pixels (..., 2) -> pixels of a (width, height) video (pixel-centre convention)."""
    s = np.array([width / camera.width_px, height / camera.height_px])
    return (np.asarray(uv, dtype=np.float64) + 0.5) * s - 0.5


@dataclass(frozen=True)
class _View:
    """What never changes for one camera and video size: rays, room image, room depth."""

    rays: np.ndarray  # (H, W, 3) float32 unit ray directions, camera frame
    background: np.ndarray  # (H, W, 3) uint8
    room_depth: np.ndarray  # (H, W) float32 distance along the ray to the floor, walls or ceiling (mm)
    floor_xy: np.ndarray  # (H, W, 2) float32 floor point of the ray (world mm); nan off the floor


@lru_cache(maxsize=8)
def _view(subject: str, camera_id: str, width: int, height: int) -> _View:
    cam = get_camera(subject, camera_id)
    xs = (np.arange(width) + 0.5) * cam.width_px / width - 0.5
    ys = (np.arange(height) + 0.5) * cam.height_px / height - 0.5
    uv = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    xy = (undistort_pixels(uv, cam) - cam.centre_px) / cam.focal_px
    rays = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    d = rays @ cam.r_cam_to_world.T  # world directions
    origin = cam.centre_mm
    with np.errstate(divide="ignore"):
        bound = np.where(d > 0, ROOM_MAX_MM, ROOM_MIN_MM)
        t_axis = np.where(d != 0, (bound - origin) / d, np.inf)
    face = np.argmin(t_axis, axis=1)
    t = t_axis[np.arange(len(d)), face]
    hit = origin + t[:, None] * d
    floor = (face == 2) & (d[:, 2] < 0)
    ceiling = (face == 2) & ~floor
    colour = _wall_colour(hit, face)
    colour[floor] = _floor_colour(hit[floor, :2])
    colour[ceiling] = (0.55, 0.55, 0.57)
    floor_xy = np.where(floor[:, None], hit[:, :2], np.nan)
    return _View(
        rays=rays.astype(np.float32).reshape(height, width, 3),
        background=_to_uint8(colour).reshape(height, width, 3),
        room_depth=t.astype(np.float32).reshape(height, width),
        floor_xy=floor_xy.astype(np.float32).reshape(height, width, 2),
    )


def _floor_colour(xy: np.ndarray) -> np.ndarray:
    """A checkerboard of slightly uneven tiles with grout lines, lit from above the centre."""
    cell = np.floor(xy / FLOOR_TILE_MM).astype(np.int64)
    checker = (cell[:, 0] + cell[:, 1]) & 1
    base = np.where(checker[:, None] == 1, (0.62, 0.60, 0.56), (0.38, 0.37, 0.36))
    tile_hash = ((cell[:, 0] * 73856093) ^ (cell[:, 1] * 19349663)) % 997 / 997.0
    base = base * (0.94 + 0.12 * tile_hash)[:, None]
    frac = xy / FLOOR_TILE_MM - cell
    grout = (np.minimum(frac, 1 - frac) < 0.015).any(axis=1)
    base[grout] *= 0.6
    light = 0.75 + 0.3 * np.exp(-(xy ** 2).sum(axis=1) / (2 * 3500.0 ** 2))
    return base * light[:, None]


def _wall_colour(hit: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Pale walls with vertical panels, a dark skirting board and a darker top."""
    along = np.where(face == 0, hit[:, 1], hit[:, 0])
    panel = np.floor(along / 1200.0).astype(np.int64) & 1
    colour = np.where(panel[:, None] == 1, (0.74, 0.72, 0.68), (0.69, 0.68, 0.65))
    colour = colour * np.where(face == 0, 0.92, 1.0)[:, None]  # the two wall pairs lit differently
    colour = colour * (1.0 - 0.25 * np.clip(hit[:, 2] / ROOM_MAX_MM[2], 0, 1))[:, None]
    colour[hit[:, 2] < 150.0] = (0.25, 0.24, 0.24)
    return colour


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _endpoint_matrix() -> tuple[np.ndarray, np.ndarray]:
    """(2 * C, 32) weights so that ``W @ joints`` gives every capsule's two end points."""
    c = len(_CAPSULES)
    w = np.zeros((2 * c, 32))
    for k, (a, b, fa, fb, _, _) in enumerate(_CAPSULES):
        w[k, a] += 1 - fa
        w[k, b] += fa
        w[c + k, a] += 1 - fb
        w[c + k, b] += fb
    return w, np.array([r for *_, r, _ in _CAPSULES])


_ENDPOINTS, _RADII = _endpoint_matrix()


class BodyRenderer:
    """Draws 32-joint world poses (mm) as one camera sees them, at ``scale`` of its resolution.

    Each call returns the RGB frame and the body mask (the pixels the body covers).
    """

    def __init__(self, camera: Camera, scale: float = 0.25, style: BodyStyle | None = None):
        self.camera = camera
        self.width, self.height = video_size(camera, scale)
        self.view = _view(camera.subject, camera.camera_id, self.width, self.height)
        style = style or BodyStyle.for_subject(camera.subject)
        parts = [p for *_, p in _CAPSULES] + [p for p, _ in _FACE_CAPSULES]
        self.colours = np.array([getattr(style, p) for p in parts], dtype=np.float32)
        self.radii = np.concatenate([_RADII, [r for _, r in _FACE_CAPSULES]])
        self.light_cam = camera.r_world_to_cam @ LIGHT_WORLD

    def render(self, joints_world_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pose (32, 3) -> (frame (H, W, 3) uint8 RGB, body mask (H, W) bool)."""
        joints = self._check(joints_world_mm)
        pa, pb, radii = self.capsules(joints)
        depth, owner = self._zbuffer(pa, pb, radii)
        mask = owner >= 0
        frame = self.view.background.copy()
        self._shadow(frame, joints, mask)
        if mask.any():
            frame[mask] = self._shade(owner[mask], depth[mask], self.view.rays[mask], pa, pb)
        return frame, mask

    def surface(self, joints_world_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The z-buffer of one pose: distance along each pixel's ray to the nearest surface
        (mm, float32) and the capsule seen there (int16, -1 for the room)."""
        return self._zbuffer(*self.capsules(self._check(joints_world_mm)))

    def _zbuffer(self, pa: np.ndarray, pb: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth = self.view.room_depth.copy()
        owner = np.full(depth.shape, -1, dtype=np.int16)
        for k, (y0, y1, x0, x1) in enumerate(self._screen_boxes(pa, pb, radii)):
            if y1 <= y0 or x1 <= x0:
                continue
            t = _capsule_hit(self.view.rays[y0:y1, x0:x1], pa[k], pb[k], radii[k])
            d = depth[y0:y1, x0:x1]
            closer = t < d
            d[closer] = t[closer]
            owner[y0:y1, x0:x1][closer] = k
        return depth, owner

    @staticmethod
    def _check(joints_world_mm: np.ndarray) -> np.ndarray:
        joints = np.asarray(joints_world_mm, dtype=np.float64)
        if joints.shape != (32, 3):
            raise ValueError(f"expected one pose of 32 joints (32, 3), got {joints.shape}")
        return joints

    def render_sequence(self, poses_world_mm: np.ndarray):
        """Yields (frame, mask) for each pose of an (N, 32, 3) sequence."""
        for pose in poses_world_mm:
            yield self.render(pose)

    def capsules(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The body's capsules in the camera frame (mm): end points (K, 3) twice and radii (K,).

        The last two are hair and nose, placed each frame.

        Hair and nose tell front from back: they sit behind and in front of the head,
        along the way the chest faces (up x (right shoulder - left shoulder)).
        """
        up = joints[13] - joints[0]
        forward = np.cross(up, joints[25] - joints[17])
        forward /= max(np.linalg.norm(forward), 1e-9)
        head_up = joints[15] - joints[14]
        head_up /= max(np.linalg.norm(head_up), 1e-9)
        hair = joints[14] + 45.0 * head_up - 22.0 * forward
        nose = joints[14] - 12.0 * head_up
        extra_a = np.stack([hair, nose + 72.0 * forward])
        extra_b = np.stack([hair + 30.0 * head_up, nose + 104.0 * forward])
        ends = world_to_camera(np.vstack([_ENDPOINTS @ joints, extra_a, extra_b]), self.camera)
        c = len(_CAPSULES)
        pa = np.vstack([ends[:c], ends[2 * c:2 * c + 2]])
        pb = np.vstack([ends[c:2 * c], ends[2 * c + 2:]])
        return pa, pb, self.radii

    def _screen_boxes(self, pa: np.ndarray, pb: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """(C, 4) pixel rows/cols [y0, y1, x0, x1) covering each capsule, clipped to the frame.

        The projection of the cube around each end sphere bounds its image (pinhole); a
        two-pixel margin covers the slight curvature the lens distortion adds.
        """
        corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T  # (8, 3)
        pts = np.concatenate([pa, pb])[:, None, :] + corners[None] * np.tile(radii, 2)[:, None, None]
        z_ok = pts[..., 2] > 1.0
        pts[..., 2] = np.maximum(pts[..., 2], 1.0)
        uv = to_video_pixels(project_camera(pts, self.camera), self.camera, self.width, self.height)
        c = len(pa)
        uv = np.concatenate([uv[:c], uv[c:]], axis=1)  # (C, 16, 2)
        lo = np.floor(uv.min(axis=1)) - 2
        hi = np.ceil(uv.max(axis=1)) + 3
        lo = np.clip(lo, 0, [self.width, self.height]).astype(int)
        hi = np.clip(hi, 0, [self.width, self.height]).astype(int)
        boxes = np.stack([lo[:, 1], hi[:, 1], lo[:, 0], hi[:, 0]], axis=1)
        # a capsule reaching behind the camera is not drawn (never the case for the capture area)
        visible = np.concatenate([z_ok[:c], z_ok[c:]], axis=1).all(axis=1)
        boxes[~visible] = 0
        return boxes

    def _shade(self, owner: np.ndarray, t: np.ndarray, rays: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
        """Lambert light plus a head light, from each pixel's surface normal on its capsule."""
        p = rays * t[:, None]
        a, ba = pa[owner], (pb - pa)[owner]
        baba = np.maximum((ba * ba).sum(axis=1), 1e-9)
        h = np.clip(((p - a) * ba).sum(axis=1) / baba, 0.0, 1.0)
        n = p - a - h[:, None] * ba
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        diffuse = np.clip(n @ self.light_cam, 0.0, None)
        facing = np.clip(-(n * rays).sum(axis=1), 0.0, None)
        intensity = 0.22 + 0.55 * diffuse + 0.35 * facing ** 2
        return _to_uint8(self.colours[owner] * intensity[:, None])

    def _shadow(self, frame: np.ndarray, joints: np.ndarray, body: np.ndarray) -> None:
        """A soft blob shadow on the floor under the pelvis and the feet (in place)."""
        blobs = np.array([[*joints[0, :2], 260.0, 0.35], [*joints[3, :2], 110.0, 0.3], [*joints[8, :2], 110.0, 0.3]])
        reach = 3 * blobs[:, 2:3]
        ring = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]])
        ground = (blobs[:, None, :2] + ring[None] * reach[:, None]).reshape(-1, 2)
        pts = np.concatenate([ground, np.zeros((len(ground), 1))], axis=1)
        cam_pts = world_to_camera(pts, self.camera)
        if (cam_pts[:, 2] <= 1.0).any():
            return
        uv = to_video_pixels(project_camera(cam_pts, self.camera), self.camera, self.width, self.height)
        x0, y0 = np.clip(np.floor(uv.min(axis=0)).astype(int), 0, [self.width, self.height])
        x1, y1 = np.clip(np.ceil(uv.max(axis=0)).astype(int) + 1, 0, [self.width, self.height])
        if x1 <= x0 or y1 <= y0:
            return
        xy = self.view.floor_xy[y0:y1, x0:x1]
        dark = np.zeros(xy.shape[:2], dtype=np.float32)
        for bx, by, sigma, weight in blobs:
            d2 = (xy[..., 0] - bx) ** 2 + (xy[..., 1] - by) ** 2
            dark += weight * np.exp(-d2 / (2 * sigma * sigma))
        dark = np.nan_to_num(np.clip(dark, 0.0, 0.6), nan=0.0)  # nan: not the floor
        dark[body[y0:y1, x0:x1]] = 0.0
        region = frame[y0:y1, x0:x1]
        region[:] = np.rint(region * (1.0 - dark[..., None])).astype(np.uint8)


def _capsule_hit(rays: np.ndarray, pa: np.ndarray, pb: np.ndarray, radius: float) -> np.ndarray:
    """Distance along each unit ray from the camera centre to a capsule; inf where it misses.

    The capsule is the union of a cylinder and two end spheres, so its first hit is the
    nearest of theirs (closed form, no iteration).
    """
    ba = pb - pa
    baba = float(ba @ ba)
    ba_pa = float(ba @ pa)
    pa2, pb2 = float(pa @ pa), float(pb @ pb)
    r2 = radius * radius
    proj = rays @ np.stack([pa, pb], axis=1).astype(np.float32)  # (.., 2): ray . pa, ray . pb
    da, db = proj[..., 0], proj[..., 1]
    best = _sphere_hit(da, pa2 - r2)
    np.minimum(best, _sphere_hit(db, pb2 - r2), out=best)
    if baba > 1e-6:
        bard = db - da
        a = baba - bard * bard
        b = ba_pa * bard - baba * da
        c = baba * (pa2 - r2) - ba_pa * ba_pa
        h = b * b - a * c
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (-b - np.sqrt(h)) / a
            y = t * bard - ba_pa
            t = np.where((h >= 0) & (a > 1e-9) & (y > 0) & (y < baba) & (t > 0), t, np.inf)
        np.minimum(best, t, out=best)
    return best


def _sphere_hit(d: np.ndarray, c: float) -> np.ndarray:
    """Nearest hit of unit rays from the origin with a sphere; d = ray . centre, c = |centre|^2 - r^2."""
    h = d * d - c
    with np.errstate(invalid="ignore"):
        t = d - np.sqrt(h)
    return np.where((h >= 0) & (t > 0), t, np.inf).astype(np.float32)
