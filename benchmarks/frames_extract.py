"""Frame extraction throughput: the `frames` library against the h36m-fetch recipe, side by side.

Both sides get the same 1000x1000, 50 fps H.264 videos (made here with PyAV: a textured
room and a moving figure, about the bitrate of the real videos) of a training subject,
and keep every 5th frame:

* recipe (h36m-fetch ``process_all.py``, used by learnable-triangulation and ContextPose):
  ``ffmpeg -i <video> -qscale:v 3 <dir>/img_%06d.jpg`` writes every frame as a full-size
  JPEG, one video at a time (ffmpeg uses all cores itself); then the kept frames are moved
  out and the others deleted. Its output is full frames, not yet cropped.
* ffmpeg, selecting: the same command with the selection before the encoder,
  ``-vf select='not(mod(n\,5))' -fps_mode passthrough`` (``-vsync 0`` before ffmpeg 5.1):
  every frame is still decoded, only the kept ones are encoded and written. The gap to the
  recipe is what its needless JPEGs cost; the gap to `frames` is decoding, cropping and sharding.
* frames: ``pose3d.video.extract_subject`` with the default settings (256 px square crops
  around the person from its 2D joints, JPEG shards), videos in a process pool of ``--workers``.

Reported: kept frames/s, input frames decoded/s, and the ratio. Before timing counts,
the benchmark checks that both sides kept the same frames: the recipe's JPEG of each kept
frame, cropped with the index's square, must match the stored crop.

    .venv/bin/python benchmarks/frames_extract.py [--videos 4] [--frames 500] [--workers 2]

The recipe needs the ``ffmpeg`` program (Debian/Ubuntu: ``apt-get install -y ffmpeg``);
without it only the `frames` side runs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.io.atomic import replacing
from pose3d.video import FrameSettings, FrameShards, extract_subject
from pose3d.video.crop import crop_square
from pose3d.video.jpeg import decode_jpeg

ROOT = Path(__file__).resolve().parents[1]
SUBJECT, KEY, W, H, EVERY = "S1", "Directions 1", 1000, 1002, 5


def joint_track(n: int, seed: int) -> np.ndarray:
    """(n, 17, 2) pixels: a figure of about 150 x 420 px walking across the view."""
    rng = np.random.default_rng(seed)
    offsets = np.column_stack([rng.uniform(-75, 75, 17), rng.uniform(-230, 190, 17)])
    t = np.arange(n)[:, None, None]
    centre = np.array([250.0 + 40 * seed, 520.0]) + t * np.array([500.0 / n, 0.2])
    return centre + offsets[None] + 8 * np.sin(t * 0.2 + np.arange(17)[None, :, None])


def make_video(path: Path, uv: np.ndarray) -> None:
    """A lit room with texture (so the bitrate is realistic) and a moving two-colour figure."""
    rng = np.random.default_rng(len(uv))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    room = np.stack([150 + 40 * np.sin(xx / 90), 130 + 30 * np.cos(yy / 70), 110 + 20 * np.sin((xx + yy) / 150)], -1)
    room[yy > 650] = (90, 40, 40)  # the red floor
    room += rng.normal(0, 7, room.shape).astype(np.float32)
    room = np.clip(room, 0, 255).astype(np.uint8)
    with replacing(path) as tmp, av.open(str(tmp), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=50)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.options = {"preset": "veryfast", "crf": "20"}
        noise = [rng.normal(0, 5, (H, W, 3)).astype(np.float32) for _ in range(7)]  # sensor noise, never flat
        for i, joints in enumerate(uv):
            img = room.copy()
            x0, y0 = joints.min(axis=0).astype(int)
            x1, y1 = joints.max(axis=0).astype(int)
            img[y0:(y0 + y1) // 2, x0:x1] = (200, 60 + i % 40, 50)
            img[(y0 + y1) // 2:y1, x0 + 20:x1 - 20] = (40, 40, 120)
            img = np.clip(img + noise[i % len(noise)], 0, 255).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def ensure_videos(work: Path, videos: int, frames: int) -> tuple[Path, dict]:
    raw = work / f"raw_{videos}x{frames}"
    poses = {KEY: [joint_track(frames, seed=i) for i in range(4)]}
    folder = raw / SUBJECT / "Videos"
    paths = [folder / f"{KEY}.{cam}.mp4" for cam in CAMERA_IDS[:videos]]
    if not all(p.is_file() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        print(f"making {videos} videos of {frames} frames, {W}x{H}, into {raw} (once) ...", flush=True)
        for i, p in enumerate(paths):
            make_video(p, poses[KEY][i])
    mb = sum(p.stat().st_size for p in paths) / 2**20
    print(f"videos: {videos} x {frames} frames, {W}x{H} H.264, {mb * 1024 / (videos * frames):.1f} KiB/frame")
    # the other views of the sequence have no video here: give the library only those that exist
    return raw, {KEY: poses[KEY][:videos] + [np.zeros((0, 17, 2))] * (4 - videos)}


def run_recipe(raw: Path, videos: int, out: Path) -> float:
    t0 = time.perf_counter()
    for cam in CAMERA_IDS[:videos]:
        tmp = out / f"tmp_{cam}"
        kept = out / cam
        tmp.mkdir(parents=True)
        kept.mkdir(parents=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(raw / SUBJECT / "Videos" / f"{KEY}.{cam}.mp4"),
                        "-qscale:v", "3", str(tmp / "img_%06d.jpg")], check=True)
        names = sorted(os.listdir(tmp))
        for j, name in enumerate(names):  # img_000001.jpg is frame 0
            if j % EVERY == 0:
                os.replace(tmp / name, kept / name)
        shutil.rmtree(tmp)
    return time.perf_counter() - t0


def run_select(raw: Path, videos: int, out: Path) -> float:
    """ffmpeg with the every-5th selection before the encoder: kept frames only, numbered 1, 2, ..."""
    t0 = time.perf_counter()
    for cam in CAMERA_IDS[:videos]:
        kept = out / cam
        kept.mkdir(parents=True)
        video = raw / SUBJECT / "Videos" / f"{KEY}.{cam}.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(video),
                        "-vf", f"select=not(mod(n\\,{EVERY}))", "-fps_mode", "passthrough",
                        "-qscale:v", "3", str(kept / "img_%06d.jpg")], check=True)
    return time.perf_counter() - t0


def check_select_matches_recipe(select_out: Path, recipe_out: Path, videos: int) -> float:
    """The selecting side's j-th JPEG is the recipe's kept frame 5j; returns the largest mean |difference|."""
    worst = 0.0
    for cam in CAMERA_IDS[:videos]:
        ours, theirs = sorted(os.listdir(select_out / cam)), sorted(os.listdir(recipe_out / cam))
        assert len(ours) == len(theirs), f"camera {cam}: select kept {len(ours)} frames, the recipe {len(theirs)}"
        for name, ref in zip(ours, theirs):
            a = decode_jpeg((select_out / cam / name).read_bytes()).astype(int)
            b = decode_jpeg((recipe_out / cam / ref).read_bytes()).astype(int)
            d = float(np.abs(a - b).mean())
            assert d < 1, f"camera {cam}: {name} differs from the recipe's {ref} by {d:.2f} on average"
            worst = max(worst, d)
    return worst


def check_same_frames(shards: FrameShards, recipe_out: Path, n_pose: int) -> float:
    """Every crop matches the recipe's frame of the same number, cropped alike; returns the mean |difference|."""
    diffs = []
    for cam in {r["camera"] for r in shards.rows}:
        names = sorted(os.listdir(recipe_out / cam))
        # the recipe also keeps frames past the poses (videos are longer); the poses cap them
        expected = [f"img_{f + 1:06d}.jpg" for f in range(0, n_pose, EVERY)]
        assert names[: len(expected)] == expected, f"camera {cam}: the recipe kept other frames"
        rows = [i for i, r in enumerate(shards.rows) if r["camera"] == cam]
        assert [shards.rows[i]["frame"] for i in rows] == list(range(0, n_pose, EVERY)), f"camera {cam}: other frames"
        for i in rows:
            m = shards.rows[i]
            full = decode_jpeg((recipe_out / cam / f"img_{m['frame'] + 1:06d}.jpg").read_bytes())
            ref = crop_square(full, m["crop_left"], m["crop_top"], m["crop_side"], m["crop_size"]).astype(int)
            d = np.abs(shards.image(i).astype(int) - ref).mean()
            assert d < 4, f"camera {cam} frame {m['frame']}: crops differ by {d:.1f} on average"
            diffs.append(d)
    return float(np.mean(diffs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=4, choices=range(1, 5))
    ap.add_argument("--frames", type=int, default=500, help="frames per video (the poses; videos are as long)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=ROOT / "data" / "bench" / "frames")
    args = ap.parse_args()

    raw, poses = ensure_videos(args.work, args.videos, args.frames)
    decoded = args.videos * args.frames
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        out = Path(tmp) / SUBJECT
        out.mkdir()
        t0 = time.perf_counter()
        report = extract_subject(raw, SUBJECT, poses, "train", FrameSettings(every_n=EVERY, boxes="joints"), out,
                                workers=args.workers)
        ours = time.perf_counter() - t0
        kept = report["crops"]
        shards = FrameShards(out)
        t1 = time.perf_counter()
        order = np.random.default_rng(0).permutation(len(shards))
        for i in order:
            shards.image(int(i))
        access = len(order) / (time.perf_counter() - t1)

        print(f"\n{'side':58s} {'wall s':>7s} {'kept/s':>8s} {'decoded/s':>10s}")
        print(f"{'frames (PyAV, crops 256 px, JPEG shards, ' + str(args.workers) + ' workers)':58s} "
              f"{ours:7.2f} {kept / ours:8.1f} {decoded / ours:10.1f}")
        print(f"random access through FrameShards (JPEG decode): {access:.0f} items/s, "
              f"{sum(p.stat().st_size for p in (out / 'shards').iterdir()) / kept / 1024:.1f} KiB/crop")
        if shutil.which("ffmpeg") is None:
            print("\nffmpeg is not installed: the h36m-fetch recipe is not compared "
                  "(install it with `apt-get install -y ffmpeg`)")
            return
        recipe_out = Path(tmp) / "recipe"
        theirs = run_recipe(raw, args.videos, recipe_out)
        recipe_kept = sum(len(os.listdir(recipe_out / c)) for c in CAMERA_IDS[: args.videos])
        print(f"{'h36m-fetch recipe (ffmpeg -qscale:v 3, every frame, keep 1/5)':58s} "
              f"{theirs:7.2f} {kept / theirs:8.1f} {decoded / theirs:10.1f}")
        select_out = Path(tmp) / "select"
        selecting = run_select(raw, args.videos, select_out)
        print(f"{'ffmpeg selecting (-vf select every 5th, then -qscale:v 3)':58s} "
              f"{selecting:7.2f} {kept / selecting:8.1f} {decoded / selecting:10.1f}")
        diff = check_same_frames(shards, recipe_out, args.frames)
        select_diff = check_select_matches_recipe(select_out, recipe_out, args.videos)
        print(f"\nffmpeg selecting keeps the recipe's frames (largest mean |difference| {select_diff:.2f} grey levels)")
        print(f"same kept frames: {kept} crops = the recipe's {recipe_kept} kept JPEGs up to the pose count; "
              f"crops match theirs cropped alike within {diff:.2f} grey levels on average (JPEG vs JPEG)")
        print(f"ratio (kept frames/s): {theirs / ours:.2f}x the recipe, {selecting / ours:.2f}x ffmpeg selecting "
              f"(their output is still full 1000 px frames, not crops); selecting alone gives "
              f"{theirs / selecting:.2f}x over the recipe")


if __name__ == "__main__":
    main()
