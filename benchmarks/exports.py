"""Export time and size per format, and the image formats against decoding the videos again.

Runs every ``export@<format>`` writer on what the default pipeline already wrote
(``data/processed/{poses,frames,priors}``; run ``make repro`` first) into a scratch folder,
and prints seconds, files and megabytes per format.

The image formats (learnable_triangulation, integral, mmpose) need full-size frames of the
kept frames. The export makes them from the crops ``frames`` stored (JPEG decode of a
256 px crop, resample into the camera-size image, JPEG encode). The baseline makes the same
images the way a seed's preprocessing does: decode each video again from its start up to
its last kept frame (``pose3d.video.decode``), bring the frame to the camera's size (the
stand-in's videos are a quarter of it; a real video is already that size), JPEG encode.
Both sides run one process on the same images, side by side, and their time is split into
parts, so the table shows where the gain comes from: the baseline's decode of every frame
against the export's decode of one small JPEG per image.

    .venv/bin/python benchmarks/exports.py [--formats ...] [--videos 8]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POSE3D_THREADS", "1")

from pose3d.export.common import ExportSettings, Inputs, folder_size  # noqa: E402
from pose3d.export.formats import FORMATS  # noqa: E402
from pose3d.export.images import full_frame  # noqa: E402
from pose3d.h36m.cameras import get_camera  # noqa: E402
from pose3d.h36m.layout import video_path  # noqa: E402
from pose3d.h36m.sequences import lookup  # noqa: E402
from pose3d.threads import limit_threads  # noqa: E402
from pose3d.video.crop import resample, resample_taps  # noqa: E402
from pose3d.video.decode import decode_frames  # noqa: E402
from pose3d.video.jpeg import JpegEncoder  # noqa: E402
from pose3d.video.reader import FrameShards  # noqa: E402


def per_format(formats: list[str], scratch: Path) -> None:
    print(f"{'format':<26}{'seconds':>9}{'files':>8}{'MB':>9}{'images':>8}")
    for name in formats:
        out = scratch / name
        t0 = time.perf_counter()
        summary = FORMATS[name].export(Inputs(), out, ExportSettings())
        seconds = time.perf_counter() - t0
        files, size = folder_size(out)
        print(f"{name:<26}{seconds:>9.2f}{files:>8}{size / 1e6:>9.1f}{summary.get('images', 0):>8}")
        shutil.rmtree(out)


def _videos(limit: int) -> list[tuple[FrameShards, list[int]]]:
    """Up to ``limit`` videos of the frames folders: (shards, item numbers of their kept crops)."""
    found = []
    for folder in Inputs().frame_folders():
        shards = FrameShards(folder)
        by_shard: dict[str, list[int]] = {}
        for i, row in enumerate(shards.rows):
            by_shard.setdefault(row["shard"], []).append(i)
        found += [(shards, items) for items in by_shard.values()]
    return found[:limit]


def _view(shards: FrameShards, items: list[int]) -> tuple[dict, object, JpegEncoder]:
    """A video's first index row, its camera, and an encoder of the camera's image size."""
    row0 = shards.rows[items[0]]
    cam = get_camera(row0["subject"], row0["camera"])
    return row0, cam, JpegEncoder(cam.width_px, cam.height_px)


def from_crops(videos) -> dict[str, float]:
    """The export's way; seconds per part."""
    t = {"read crop (JPEG decode)": 0.0, "resample into the frame": 0.0, "JPEG encode": 0.0}
    for shards, items in videos:
        _, cam, enc = _view(shards, items)
        for i in items:
            a = time.perf_counter()
            crop, row = shards[i]
            b = time.perf_counter()
            img = full_frame(crop, row, cam)
            c = time.perf_counter()
            enc.encode(img)
            d = time.perf_counter()
            t["read crop (JPEG decode)"] += b - a
            t["resample into the frame"] += c - b
            t["JPEG encode"] += d - c
    return t


def from_videos(videos, raw_dir: Path) -> dict[str, float]:
    """Decoding the videos again; seconds per part."""
    t = {"decode the video": 0.0, "resize to the camera's size": 0.0, "JPEG encode": 0.0}
    for shards, items in videos:
        row0, cam, enc = _view(shards, items)
        seq = lookup(row0["subject"], row0["file_base"])
        path = video_path(raw_dir, row0["subject"], seq, row0["camera"])
        keep = [shards.rows[i]["frame"] for i in items]
        a = time.perf_counter()
        frames = decode_frames(path, keep, max(keep) + 1)
        for _, rgb in frames:
            b = time.perf_counter()
            t["decode the video"] += b - a
            h, w = rgb.shape[:2]
            if (w, h) != (cam.width_px, cam.height_px):
                rgb = resample(rgb, resample_taps(0, h, cam.height_px, h), resample_taps(0, w, cam.width_px, w))
            c = time.perf_counter()
            enc.encode(rgb)
            a = time.perf_counter()
            t["resize to the camera's size"] += c - b
            t["JPEG encode"] += a - c
    return t


def images(videos: int) -> None:
    import yaml

    raw_dir = ROOT / yaml.safe_load((ROOT / "params.yaml").read_text())["dataset"]["raw_dir"]
    chosen = _videos(videos)
    n = sum(len(items) for _, items in chosen)
    print(f"\nimages: {n} kept frames of {len(chosen)} videos, one process each side")
    base = from_videos(chosen, raw_dir)
    ours = from_crops(chosen)
    for label, parts in (("decode the videos again", base), ("from the frames' crops (export)", ours)):
        total = sum(parts.values())
        print(f"  {label:<34}{total:>8.2f} s  {n / total:>7.1f} images/s")
        for part, sec in parts.items():
            print(f"      {part:<30}{sec:>8.2f} s  ({1000 * sec / n:.2f} ms per image)")
    ratio = sum(base.values()) / sum(ours.values())
    print(f"  speed-up of the export over decoding again: {ratio:.2f}x")
    saved = base["decode the video"] + base["resize to the camera's size"] - ours["read crop (JPEG decode)"] - ours["resample into the frame"]
    print(f"  from skipping the decode and resize: {saved:.2f} s of {sum(base.values()) - sum(ours.values()):.2f} s saved")
    return ours, n


def real_size(ours: dict[str, float], n: int, every: int = 5, frames: int = 250) -> None:
    """A real download's videos are 1000 x 1002 and need no resize, but every frame up to the last kept
    one is decoded: decode a video of that size (made once, as in benchmarks/frames_extract.py)."""
    from benchmarks.frames_extract import joint_track, make_video

    path = ROOT / "data" / "bench" / "exports" / "real_size.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"making a {frames}-frame 1000x1002 video into {path} (once) ...", flush=True)
        make_video(path, joint_track(frames, seed=0))
    keep = list(range(0, frames, every))
    enc = JpegEncoder(1000, 1002)
    t_dec = t_enc = 0.0
    a = time.perf_counter()
    for _, rgb in decode_frames(path, keep, frames):
        b = time.perf_counter()
        enc.encode(rgb)
        t_dec, t_enc, a = t_dec + b - a, t_enc + time.perf_counter() - b, time.perf_counter()
    base = (t_dec + t_enc) / len(keep)
    mine = sum(ours.values()) / n
    print(f"\nreal-size videos (1000x1002 H.264, every {every}th frame kept), per image:")
    print(f"  decode the videos again: {1000 * base:.1f} ms (decode {1000 * t_dec / len(keep):.1f} ms of {every} frames,"
          f" JPEG encode {1000 * t_enc / len(keep):.1f} ms)")
    print(f"  from the frames' crops:  {1000 * mine:.1f} ms; speed-up {base / mine:.2f}x")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--formats", nargs="*", default=list(FORMATS))
    ap.add_argument("--videos", type=int, default=8, help="videos in the image comparison")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    limit_threads()
    with tempfile.TemporaryDirectory(dir=ROOT / "data") as scratch:
        per_format(args.formats, Path(scratch))
    real_size(*images(args.videos))


if __name__ == "__main__":
    main()
