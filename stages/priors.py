"""DVC stage ``priors``: pelvis priors by multi-view triangulation, and limb-length statistics.

Reads ``priors`` (the 2D source ``input_2d``, an entry of ``inputs_2d``; RANSAC, camera weights,
workers / dask_address) and ``dataset.subjects`` / ``dataset.train_subjects``.
Inputs: ``data/processed/poses/`` (3D ground truth and ``sequences.csv``, whose excluded views
take no part) and the 2D source's ``data/processed/inputs_2d/<input_2d>.npz``. Writes ``data/processed/priors/pelvis_priors.npz``
(every frame's triangulated 17 joints, world mm; format in :mod:`pose3d.priors.pelvis`) and
``limb_stats.h5`` (ContextPose's ``mean``/``std`` per limb, mm, training subjects), and
the metrics ``data/metrics/priors.json``: triangulation MPJPE overall and per action,
pelvis error, RANSAC inlier fraction.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, SequencesCsvError, read_exclusions
from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_3d
from pose3d.io.atomic import replacing_dir
from pose3d.parallel import pmap
from pose3d.detections.load import DetectionsError, frame_counts, load_detections
from pose3d.detections.sources import Source2D
from pose3d.priors.limbs import limb_statistics, write_limb_stats
from pose3d.priors.pelvis import (
    SubjectJob,
    TriangulationSettings,
    subject_priors,
    summarise,
    usable_views,
    write_pelvis_priors,
)
from stages.common import fail, provenance, section, start, write_json

POSES = Path("data/processed/poses")
OUT = Path("data/processed/priors")
METRICS = Path("data/metrics/priors.json")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "priors", out={"type": Path, "default": OUT})
    cfg, ds = section(params, "priors", log), section(params, "dataset", log)
    source = cfg.input_2d
    try:
        spec = Source2D.from_params(params, source)
        threshold = cfg.ransac_threshold_px if cfg.ransac else None
        settings = TriangulationSettings(threshold, cfg.camera_weights)
        settings.weights(len(CAMERA_IDS))
        if threshold is not None and not threshold > 0:
            raise ValueError(f"ransac_threshold_px must be > 0, got {threshold}")
    except (KeyError, TypeError, ValueError) as exc:
        fail(log, f"params.yaml priors: {exc}")

    if not (POSES / "data_3d_h36m.npz").is_file():
        fail(log, f"{POSES / 'data_3d_h36m.npz'}: missing (run the convert stage first)")
    try:
        source_file = spec.materialised()
    except FileNotFoundError as exc:
        fail(log, str(exc))
    try:
        excluded = read_exclusions(POSES / SEQUENCES_CSV)
    except SequencesCsvError as exc:
        fail(log, str(exc))
    t0 = time.time()
    poses_3d = load_3d(POSES / "data_3d_h36m.npz")
    subjects, train = list(ds.subjects), list(ds.train_subjects)
    missing = [s for s in subjects if s not in poses_3d]
    if missing:
        fail(log, f"{POSES / 'data_3d_h36m.npz'}: has no subject {missing} of dataset.subjects")
    if not train or set(train) - set(subjects):
        fail(log, f"params.yaml dataset.train_subjects {train} must be a non-empty subset of "
                  f"dataset.subjects {subjects}")

    frames = frame_counts(poses_3d, subjects)
    try:
        views = load_detections(source_file, frames)
    except DetectionsError as exc:
        fail(log, str(exc))
    views = {s: {a: [v[..., :2] for v in vs] for a, vs in acts.items()} for s, acts in views.items()}
    log.info("triangulating %d frames of %d subjects from %s 2D (%s)", sum(sum(f.values()) for f in frames.values()),
             len(subjects), source, f"RANSAC {threshold} px" if threshold else "plain DLT")

    jobs = [SubjectJob(s, views[s], poses_3d[s], settings, excluded.of_subject(s)) for s in subjects]
    results = pmap(subject_priors, jobs, workers=cfg.workers, dask_address=cfg.dask_address,
                   desc="priors subjects", weights=[sum(frames[s].values()) for s in subjects])
    priors = dict(zip(subjects, results))
    usable = {s: {a: usable_views(v, settings, excluded.of(s, a)) for a, v in views[s].items()}
              for s in subjects}
    metrics = summarise(priors, usable)

    poses_mm = {s: {a: to_17(arr).astype(np.float64) * 1000.0 for a, arr in poses_3d[s].items()} for s in subjects}
    pooled, per_subject = limb_statistics(poses_mm, train)
    _, per_all = limb_statistics(poses_mm, subjects)
    with replacing_dir(args.out) as tmp:
        write_pelvis_priors(tmp / "pelvis_priors.npz", priors, source, threshold)
        write_limb_stats(tmp / "limb_stats.h5", pooled, {**per_all, **per_subject}, train)

    metrics["limb_length_mean_mm"] = float(pooled.mean.mean())
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    write_json(METRICS, metrics)
    seconds = time.time() - t0
    write_json(args.out.with_name(args.out.name + ".provenance.json"),
               provenance(seconds=seconds, source_2d=source, ransac_threshold_px=threshold, subjects=subjects))
    log.info("triangulation MPJPE %.2f mm, pelvis error %.2f mm, RANSAC inliers %.3f, valid joints %.4f (%.1f s)",
             metrics["mpjpe_mm"], metrics["pelvis_error_mm"], metrics["ransac_inlier_fraction"],
             metrics["valid_joint_fraction"], seconds)


if __name__ == "__main__":
    main()
