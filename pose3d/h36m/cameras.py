"""Human3.6M cameras: shared intrinsics, per-subject extrinsics and image sizes.

The numbers live in ``data/cameras.json`` (metadata.xml ``w0`` intrinsics in double
precision, VideoPose3D's extrinsics). The two published orders of the tangential
coefficients are both exposed, on :class:`~pose3d.geometry.camera.Camera`, under names that say
which is which.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from pose3d.geometry.camera import Camera

CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
SUBJECTS_ALL: tuple[str, ...] = tuple(f"S{i}" for i in range(1, 12))
SUBJECTS_LABELLED: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


@lru_cache(maxsize=1)
def _raw() -> dict:
    return json.loads(resources.files("pose3d.h36m").joinpath("data/cameras.json").read_text())


def _check_subject(subject: str) -> None:
    if subject not in SUBJECTS_ALL:
        raise ValueError(f"unknown Human3.6M subject {subject!r}; expected one of {', '.join(SUBJECTS_ALL)}")


def get_camera(subject: str, camera: str | int) -> Camera:
    """The camera of ``subject`` given by id ('54138969') or index (0..3)."""
    _check_subject(subject)
    if isinstance(camera, (int, np.integer)):  # an index; out of range (or negative) is unknown
        cam_id = CAMERA_IDS[camera] if 0 <= camera < len(CAMERA_IDS) else None
    else:
        cam_id = str(camera)
    if cam_id not in CAMERA_IDS:
        raise ValueError(f"unknown Human3.6M camera {camera!r}; expected one of {', '.join(CAMERA_IDS)}")
    raw = _raw()
    intr, ext = raw["intrinsics"][cam_id], raw["extrinsics"][subject][cam_id]
    return Camera(
        subject=subject,
        camera_id=cam_id,
        index=CAMERA_IDS.index(cam_id),
        focal_px=np.array(intr["focal_px"]),
        centre_px=np.array(intr["centre_px"]),
        radial_k123=np.array(intr["radial_k123"]),
        tangential_metadata_pApB=np.array(intr["tangential_metadata_pApB"]),
        orientation_wxyz=np.array(ext["orientation_wxyz"]),
        centre_mm=np.array(ext["centre_mm"]),
        width_px=int(raw["image_width_px"]),
        height_px=int(raw["image_height_px"][subject][cam_id]),
    )


def subject_cameras(subject: str) -> list[Camera]:
    """The four cameras of a subject, in the canonical index order."""
    return [get_camera(subject, i) for i in range(len(CAMERA_IDS))]


def cameras_json(subjects: tuple[str, ...] = SUBJECTS_ALL) -> dict:
    """Every camera of ``subjects`` as plain JSON data (written by the convert stage)."""
    return {
        "camera_ids": list(CAMERA_IDS),
        "units": {"focal_px": "pixels", "centre_mm": "millimetres, world frame"},
        "conventions": {
            "orientation_wxyz": "unit quaternion rotating camera-frame vectors into the world",
            "world_to_camera": "X_cam = r_world_to_cam @ (X - centre_mm) = r_world_to_cam @ X + t_world_to_cam_mm",
            "tangential": "metadata order (pA, pB) = reversed VideoPose3D (p1, p2)",
        },
        "subjects": {s: {c.camera_id: c.to_json() for c in subject_cameras(s)} for s in subjects},
    }
