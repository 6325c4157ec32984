"""DVC stage ``detect@<experiment>``: a trained keypoints2d experiment over every frame of every video.

Writes ``data/processed/detections/data_2d_h36m_<experiment>.npz`` in VideoPose3D's format
(``positions_2d[subject][action]`` = four (N, 17, 3) arrays of x, y, score in original-image
pixels, ``metadata`` with the 17-joint symmetry) for every sequence whose four videos were
detected (the stand-in renders a selection; a download has them all), and
``data/metrics/<experiment>/detect.json``: the detections' errors against the ground-truth 2D
on every frame, per split. Lifting experiments use it through an ``inputs_2d`` entry
(``{file: <that npz>, partial: true}``). Videos run in a process pool (or on Dask); each
finished video is a part under ``data/processed/detections/<experiment>.parts/`` that a rerun
with the same weights and settings reuses.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from pose3d.detections.load import save_2d, vp3d_metadata
from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.sequences_csv import SequencesCsvError, read_exclusions
from pose3d.h36m.vp3d_format import load_2d
from pose3d.images.config import image_run, run_dict
from pose3d.images.detect import DetectJob, detect_video, read_part
from pose3d.images.evaluate import PCK_THRESHOLDS
from pose3d.parallel import default_workers, pmap
from pose3d.params import as_dict
from pose3d.video.extract import FrameSettings
from pose3d.video.subject import FramesError, plan_subject
from stages.common import fail, file_digest, provenance, section, start, write_json
from stages.frames import provided_videos

POSES = Path("data/processed/poses")
OUT = Path("data/processed/detections")


def detections_file(name: str) -> Path:
    return OUT / f"data_2d_h36m_{name}.npz"


def errors_summary(errors: list[np.ndarray], boxes: list[np.ndarray]) -> dict:
    """Mean pixel error and PCK over every detected joint of the given views."""
    if not errors:
        return {"frames": 0}
    e, b = np.concatenate(errors), np.concatenate(boxes)
    ok = ~np.isnan(e).any(-1)
    e, b = e[ok], b[ok]
    out = {"frames": int(len(e)), "mean_px": float(e.mean())}
    for a in PCK_THRESHOLDS:
        out[f"pck_{a}"] = float((e <= a * b[:, None]).mean())
    return out


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "detect@{experiment}", experiment={"required": True})
    name = args.experiment
    ds, frames_cfg, cfg = section(params, "dataset", log), section(params, "frames", log), section(params, "detect", log)
    weights = Path("data/models") / name / "latest.pt"
    try:
        run = image_run(params, name)
        if run.model != "keypoints2d":
            raise ValueError(f"is a {run.model} experiment; detect needs a keypoints2d one")
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: no trained model (run train_image@{name} first)")
        settings = dataclasses.replace(FrameSettings.from_params(as_dict(frames_cfg)), every_n=1, test_every_n=1)
        exclusions = read_exclusions(POSES / "sequences.csv")
        poses, _ = load_2d(POSES / "data_2d_h36m_gt.npz")
    except (KeyError, ValueError, OSError, SequencesCsvError) as exc:
        fail(log, f"detect@{name}: {exc}")
    identity = hashlib.sha256(json.dumps({
        "weights": file_digest(weights), "run": run_dict(run), "flip_test": cfg.flip_test,
        "boxes": [settings.boxes, settings.margin, settings.joints_margin],
    }, sort_keys=True, default=str).encode()).hexdigest()[:16]
    workers = int(cfg.workers or default_workers())
    threads = max(1, default_workers() // workers)
    parts = OUT / f"{name}.parts"
    jobs, raw_dir = [], Path(ds.raw_dir)
    for subject in ds.subjects:
        split = "test" if subject in ds.test_subjects else "train"
        try:
            planned, _ = plan_subject(raw_dir, subject, poses[subject], split, settings, parts / subject, exclusions,
                                      provided_videos(raw_dir, subject))
        except (FramesError, KeyError) as exc:
            fail(log, f"detect@{name}: {subject}: {exc}")
        for vj in planned:
            part = parts / subject / f"{vj.key}.{vj.camera_id}.npz"
            jobs.append(DetectJob(vj, str(weights.resolve()), run, str(part.resolve()), identity, threads,
                                  cfg.batch_size, cfg.flip_test))
    if not jobs:
        fail(log, f"detect@{name}: no video of {', '.join(ds.subjects)} under {raw_dir}")
    t0 = time.time()
    log.info("%s: %d videos, %d frames, %d processes x %d threads", name, len(jobs),
             sum(j.video.n_pose for j in jobs), workers, threads)
    summaries = pmap(detect_video, jobs, workers=workers, dask_address=cfg.dask_address, desc=f"detect@{name}",
                     weights=[j.video.n_pose for j in jobs])
    for s in summaries:
        if s.get("problem"):
            log.warning("%s: %s", s["video"], s["problem"])
    positions, errors, boxes = {}, {"train": [], "test": []}, {"train": [], "test": []}
    by_sequence: dict[tuple[str, str], dict[str, DetectJob]] = {}
    for job in jobs:
        by_sequence.setdefault((job.video.subject, job.video.key), {})[job.video.camera_id] = job
    for (subject, key), cams in sorted(by_sequence.items()):
        if len(cams) < len(CAMERA_IDS):
            continue  # a view excluded or not rendered: VideoPose3D's format needs all four
        views = []
        for cam in CAMERA_IDS:
            part = read_part(cams[cam].part, identity)
            views.append(part["positions"])
            gt = poses[subject][key][CAMERA_IDS.index(cam)][: len(part["positions"])]
            errors[cams[cam].video.split].append(np.linalg.norm(part["positions"][..., :2] - gt[..., :2], axis=-1))
            boxes[cams[cam].video.split].append(part["box_px"])
        positions.setdefault(subject, {})[key] = views
    if not positions:
        fail(log, f"detect@{name}: no sequence has all four videos detected")
    save_2d(detections_file(name), positions, vp3d_metadata(True, f"detect@{name}"))
    metrics = {**errors_summary(errors["train"] + errors["test"], boxes["train"] + boxes["test"]),
               "videos": len(jobs), "sequences": sum(len(a) for a in positions.values()),
               "by_split": {k: errors_summary(errors[k], boxes[k]) for k in errors},
               "flip_test": cfg.flip_test, "units": "original-image pixels",
               "pck_reference": "longer side of the ground-truth person box"}
    write_json(Path("data/metrics") / name / "detect.json", metrics)
    seconds = time.time() - t0
    log.info("%s: %d sequences, %d frames in %.1f s (%.0f frames/s); mean error %.2f px, PCK@0.1 %.3f (test: %.2f px)",
             name, metrics["sequences"], metrics["frames"], seconds, metrics["frames"] / max(seconds, 1e-9),
             metrics["mean_px"], metrics["pck_0.1"], metrics["by_split"]["test"].get("mean_px", float("nan")))
    write_json(OUT / f"{name}.provenance.json", provenance(seconds=seconds, workers=workers, threads=threads,
                                                          reused=sum(bool(s.get("reused")) for s in summaries)))


if __name__ == "__main__":
    main()
