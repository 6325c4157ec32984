"""DVC stage ``frames@<subject>``: the subject's videos -> square crops of the kept frames, one shard per video.

Reads ``frames`` (every_n, test_every_n, crop, margin, joints_margin, undistort, boxes,
encoding, jpeg_qscale, decoder_threads, workers, dask_address; ``frames.subjects`` is only
the list dvc.yaml's ``foreach`` runs over) and ``dataset`` (raw_dir, train_subjects,
test_subjects), and what ``convert`` wrote: the 2D poses and ``sequences.csv``, whose
excluded views are not extracted. Writes ``data/processed/frames/<S>/``: ``shards/*.npy``,
``index.csv``, ``videos.csv``, ``cameras.json``, ``report.json``. A broken, short or absent
video is logged, recorded in ``videos.csv`` and ``report.json``, and skipped (or cut at its
last good frame); the rest is extracted. The stage fails only when nothing of the subject
can be extracted.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, SequencesCsvError, read_exclusions
from pose3d.h36m.vp3d_format import load_2d
from pose3d.io.atomic import replacing_dir
from pose3d.synth.manifest import read_manifest
from pose3d.video.extract import FrameSettings
from pose3d.video.subject import FramesError, extract_subject
from pose3d.params import as_dict
from stages.common import fail, provenance, section, start, write_json

OUT = Path("data/processed/frames")
POSES_2D = Path("data/processed/poses/data_2d_h36m_gt.npz")


def provided_videos(raw_dir: Path, subject: str) -> set[str] | None:
    """Videos a synthetic tree was generated with (``<Seq>.<camera>``); None for a real download (all of them)."""
    manifest = read_manifest(raw_dir)
    if manifest is None:
        return None
    return set(((manifest.get("videos") or {}).get("video_frames") or {}).get(subject, {}))


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(
        __doc__, argv, "frames@{subject}",
        subject={"required": True, "help": "subject to extract, e.g. S9"},
        poses={"type": Path, "default": POSES_2D, "help": "2D poses written by convert"},
        out={"type": Path, "default": OUT, "help": "parent folder of the per-subject outputs"},
        sequences={"type": Path, "help": f"convert's {SEQUENCES_CSV} (default: next to --poses)"},
    )
    ds, cfg = section(params, "dataset", log), section(params, "frames", log)
    subject = args.subject
    raw_dir = Path(ds.raw_dir)
    train, test = list(ds.train_subjects), list(ds.test_subjects)
    if subject in test:
        split = "test"
    elif subject in train:
        split = "train"
    else:
        fail(log, f"{subject} is in neither dataset.train_subjects {train} nor dataset.test_subjects {test}")
    try:
        settings = FrameSettings.from_params(as_dict(cfg))
    except ValueError as exc:
        fail(log, f"params.yaml {exc}")
    try:
        exclusions = read_exclusions(args.sequences or args.poses.with_name(SEQUENCES_CSV))
    except SequencesCsvError as exc:
        fail(log, str(exc))
    if not args.poses.is_file():
        fail(log, f"{args.poses}: 2D poses are missing (run the convert stage first)")
    poses = load_2d(args.poses)[0]
    if subject not in poses:
        fail(log, f"{args.poses}: has no poses of {subject} (dataset.subjects: {list(ds.subjects)})")

    provided = provided_videos(raw_dir, subject)
    if provided is not None and not provided:
        fail(log, f"{raw_dir}: the synthetic stand-in was generated without videos of {subject}; "
                  "list the subject under synthesize.videos in params.yaml")

    t0 = time.time()
    target = args.out / subject
    try:
        with replacing_dir(target) as tmp:
            report = extract_subject(raw_dir, subject, poses[subject], split, settings, tmp, exclusions, provided,
                                     workers=cfg.workers, dask_address=cfg.dask_address)
    except FramesError as exc:
        fail(log, f"frames@{subject} failed: {exc}")
    seconds = time.time() - t0
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report["videos"].items()))
    log.info("%s (%s, 1 in %d frames): %d crops from %s videos in %.1f s",
             subject, split, report["every_n"], report["crops"], counts, seconds)
    if report["problems"]:
        log.warning("%s: %d views with problems; see %s and %s", subject,
                    sum(p["status"] != "excluded" for p in report["problems"]),
                    target / "report.json", target / "videos.csv")
    # beside, not inside, data/processed/frames: the exports read that whole folder and must not re-run for it
    write_json(args.out.parent / f"{args.out.name}-{subject}.provenance.json",
               provenance(seconds=seconds, raw_dir=str(raw_dir), subject=subject, crops=report["crops"],
                          dask_address=cfg.dask_address))


if __name__ == "__main__":
    main()
