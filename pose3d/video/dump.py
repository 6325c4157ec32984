"""Write one frame to a JPEG file, to look at it: an extracted crop, or a full frame of a video.

    python -m pose3d.video.dump data/processed/frames/S9 --item 12 -o crop.jpg
    python -m pose3d.video.dump data/processed/frames/S9 --key "Directions 1" --camera 54138969 --frame 640 \
        --poses data/processed/poses/data_2d_h36m_gt.npz -o crop.jpg
    python -m pose3d.video.dump --video "data/raw/synthetic/S9/Videos/Directions 1.54138969.mp4" --frame 640 -o full.jpg

With ``--poses`` the 2D joints of that frame are drawn on the crop (mapped with the crop's
own transform), a direct check that crops and poses line up. ``--video`` decodes frame
``--frame`` (0-based, the pose frame) the same frame-exact way the ``frames`` stage does.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pose3d.io.atomic import write_bytes
from pose3d.video.decode import DecodeReport, VideoError, decode_frames
from pose3d.video.jpeg import JpegEncoder
from pose3d.video.reader import FrameShards, joints_to_crop


def draw_points(image: np.ndarray, points: np.ndarray, colour=(0, 255, 0), radius: int = 2) -> np.ndarray:
    out = image.copy()
    h, w = out.shape[:2]
    for x, y in np.rint(points).astype(int):
        out[max(0, y - radius):min(h, y + radius + 1), max(0, x - radius):min(w, x + radius + 1)] = colour
    return out


def video_frame(path: Path, frame: int) -> np.ndarray:
    """Frame ``frame`` of a video as RGB; ValueError (with the decoder's reason) if it has no such frame."""
    report = DecodeReport(str(path))
    for _, rgb in decode_frames(path, [frame], frame + 1, report):
        return rgb
    raise ValueError(f"{path}: no frame {frame} ({report.error or f'the video has {report.decoded} frames'})")


def crop_item(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    shards = FrameShards(args.folder)
    if args.item is not None:
        if not 0 <= args.item < len(shards):
            raise KeyError(f"item {args.item} is out of range (the index has {len(shards)} items)")
        i = args.item
    elif args.key and args.camera and args.frame is not None:
        i = shards.find(shards.rows[0]["subject"] if shards.rows else "", args.key, args.camera, args.frame)
    else:
        raise ValueError("give --item, or --key, --camera and --frame")
    image, meta = shards[i]
    if args.poses:
        from pose3d.h36m.vp3d_format import load_2d

        uv = load_2d(args.poses)[0][meta["subject"]][meta["key"]][meta["camera_index"]][meta["frame"]]
        image = draw_points(image, joints_to_crop(meta, uv))
    return image, (f"{meta['subject']} {meta['key']} camera {meta['camera']} frame {meta['frame']} "
                   f"(box from {meta['box_source']})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", help="a subject's output folder, e.g. data/processed/frames/S9")
    ap.add_argument("--item", type=int, help="item number (row of index.csv)")
    ap.add_argument("--key", help="action key, e.g. 'Directions 1'")
    ap.add_argument("--camera", help="camera id, e.g. 54138969")
    ap.add_argument("--frame", type=int, help="0-based pose frame")
    ap.add_argument("--poses", type=Path, help="data_2d_h36m_gt.npz: draw the 2D joints of the frame")
    ap.add_argument("--video", type=Path, help="dump a full frame of this video instead of a crop (needs --frame)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="JPEG file to write")
    args = ap.parse_args(argv)
    if (args.video is None) == (args.folder is None):
        ap.error("give either a frames folder or --video")
    try:
        if args.video is not None:
            if args.frame is None:
                raise ValueError("--video needs --frame")
            image, what = video_frame(args.video, args.frame), f"{args.video} frame {args.frame}"
        else:
            image, what = crop_item(args)
    except (OSError, KeyError, ValueError, VideoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    data = JpegEncoder(image.shape[1], image.shape[0], qscale=2).encode(image)
    write_bytes(args.out, data)
    print(f"{args.out}: {what}, {image.shape[1]}x{image.shape[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
