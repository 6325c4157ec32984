"""Test media made on the spot: mp4 files whose frames carry their own index, and official-layout .mat masks."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import av
import h5py
import numpy as np
import pytest

BIT = 16  # side of one index bit block, pixels (macroblock-aligned: survives H.264 intact)
BITS = 12


def index_pattern(img: np.ndarray, i: int) -> None:
    """Write ``i`` as BITS white/black blocks along the top-left edge of ``img``."""
    for b in range(BITS):
        img[0:BIT, b * BIT:(b + 1) * BIT] = 255 if (i >> b) & 1 else 0


def read_index_pattern(img: np.ndarray) -> int:
    return sum(1 << b for b in range(BITS) if img[BIT // 2, b * BIT + BIT // 2].mean() > 127)


def person_box(i: int, width: int, height: int) -> tuple[int, int, int, int]:
    """A moving rectangle (c0, r0, c1, r1), end exclusive, fully inside the frame."""
    c0 = 100 + (7 * i) % max(1, width - 400)
    r0 = 60 + (3 * i) % max(1, height - 300)
    return c0, r0, c0 + min(220, width - c0 - 1), r0 + min(180, height - r0 - 1)


def draw_frame(i: int, width: int, height: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * 200 // width + 20), (yy * 200 // height + 20), np.full_like(xx, 90)], -1).astype(np.uint8)
    c0, r0, c1, r1 = box or person_box(i, width, height)
    img[r0:r1, c0:c1] = (220, 60, 40)
    index_pattern(img, i)
    return img


def write_video(path: Path, n: int, width: int = 320, height: int = 240,
                draw: Callable[[int], np.ndarray] | None = None, faststart: bool = False) -> Path:
    """An H.264 mp4 at 50 fps whose frame i shows ``draw(i)`` (default: index pattern + moving box)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw = draw or (lambda i: draw_frame(i, width, height))
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264", rate=50)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.codec_context.options = {"preset": "ultrafast", "crf": "12", "threads": "1"}
        for i in range(n):
            for p in s.encode(av.VideoFrame.from_ndarray(draw(i), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame, the plain way (no checks), as the reference for frame-exactness."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def write_masks(path: Path, boxes: list[tuple[int, int, int, int]], width: int, height: int) -> Path:
    """A MATLAB v7.3 ground_truth_bb file: ``Masks`` (N, 1) object references to (W, H) logical masks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs_group = f.create_group("#refs#")
        refs = []
        for n, (c0, r0, c1, r1) in enumerate(boxes):
            m = np.zeros((width, height), dtype=np.uint8)  # MATLAB's H x W, as h5py sees it
            m[c0:c1, r0:r1] = 1
            d = refs_group.create_dataset(f"m{n}", data=m, compression="gzip", chunks=True)
            d.attrs["MATLAB_class"] = np.bytes_("logical")
            d.attrs["MATLAB_int_decode"] = np.int32(1)
            refs.append(d.ref)
        ds = f.create_dataset("Masks", data=np.array(refs, dtype=h5py.ref_dtype).reshape(-1, 1))
        ds.attrs["MATLAB_class"] = np.bytes_("cell")
    with open(path, "r+b") as fh:  # the text header MATLAB puts in the user block
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2001 HDF5 schema 1.00 .")
    return path


def write_view(raw: Path, subject: str, file_base: str, camera_id: str, uv: np.ndarray, scale: float = 0.25,
               extra: int = 1, masks: bool = True, faststart: bool = False) -> list[tuple[int, int, int, int]]:
    """One official-layout view: ``Videos/<Seq>.<cam>.mp4`` (+ ``ground_truth_bb/<Seq>.<cam>.mat``).

    The video shows the camera's image at ``scale`` (as the synthetic stand-in renders it):
    a filled rectangle around the frame's 2D joints ``uv`` (N, J, 2, camera pixels) and the
    frame index pattern; ``extra`` frames more than the poses. Returns the rectangles
    (c0, r0, c1, r1) in video pixels, which are also the masks.
    """
    from pose3d.h36m.cameras import get_camera
    from pose3d.video.crop import to_video, video_scale

    cam = get_camera(subject, camera_id)
    w, h = 2 * round(cam.width_px * scale / 2), 2 * round(cam.height_px * scale / 2)
    vuv = to_video(uv, video_scale(cam, w, h))
    n = len(uv) + extra
    boxes = []
    for i in range(n):
        u = vuv[min(i, len(uv) - 1)]
        c0, r0 = max(0, int(u[:, 0].min()) - 6), max(0, int(u[:, 1].min()) - 8)
        boxes.append((c0, r0, min(w, int(u[:, 0].max()) + 7), min(h, int(u[:, 1].max()) + 7)))
    bg = draw_frame(0, w, h, (0, 0, 1, 1))

    def draw(i: int) -> np.ndarray:
        img = bg.copy()
        c0, r0, c1, r1 = boxes[i]
        img[r0:r1, c0:c1] = (220, 60, 40)
        index_pattern(img, i)
        return img

    write_video(Path(raw) / subject / "Videos" / f"{file_base}.{camera_id}.mp4", n, w, h, draw, faststart)
    if masks:
        write_masks(Path(raw) / subject / "MySegmentsMat" / "ground_truth_bb" / f"{file_base}.{camera_id}.mat", boxes, w, h)
    return boxes


@pytest.fixture(scope="session")
def media() -> SimpleNamespace:
    """The helpers above, for tests in this folder."""
    fns = (index_pattern, read_index_pattern, person_box, draw_frame, write_video, decode_all, write_masks, write_view)
    return SimpleNamespace(BIT=BIT, **{fn.__name__: fn for fn in fns})


def joint_track(n: int, seed: int = 0) -> np.ndarray:
    """(n, 17, 2) 2D joints in camera pixels: a stick figure walking across the image."""
    rng = np.random.default_rng(seed)
    offsets = np.column_stack([rng.uniform(-70, 70, 17), rng.uniform(-220, 200, 17)])
    t = np.arange(n)[:, None, None]
    centre = np.array([300.0 + 37 * seed, 480.0])[None, None, :] + t * np.array([4.0, 0.5])
    return centre + offsets[None] + 6 * np.sin(t * 0.3 + np.arange(17)[None, :, None])


TREE_SUBJECT, TREE_KEYS = "S9", ("Directions 1", "Directions")
TREE_POSES = {"Directions 1": 41, "Directions": 37}


@pytest.fixture(scope="session")
def small_tree(tmp_path_factory) -> SimpleNamespace:
    """S9 in the official layout: 'Directions 1' with all 4 videos (no mask file for the last camera),
    'Directions' with none; 2D poses as {key: [4 x (N, 17, 2)]}."""
    from pose3d.h36m.cameras import CAMERA_IDS

    raw = tmp_path_factory.mktemp("tree") / "raw"
    poses = {k: [joint_track(n, seed=i) for i in range(4)] for k, n in TREE_POSES.items()}
    masks = {}
    for i, cam in enumerate(CAMERA_IDS):
        masks[cam] = write_view(raw, TREE_SUBJECT, "Directions 1", cam, poses["Directions 1"][i], masks=i < 3, extra=i % 3)
    (raw / TREE_SUBJECT / "Videos" / "_ALL 1.54138969.mp4").write_bytes(b"")  # a video without poses
    return SimpleNamespace(raw=raw, subject=TREE_SUBJECT, poses=poses, masks=masks)
