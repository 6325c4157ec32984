"""DVC stage ``triangulate``: every frame's 17 joints by multi-view triangulation, the default pelvis source.

Reads ``priors`` (the 2D source ``input_2d``, an entry of ``inputs_2d``; RANSAC, camera weights,
workers / dask_address) and ``dataset.subjects``. Inputs: ``data/processed/poses/`` (3D ground
truth and ``sequences.csv``, whose excluded views take no part) and the 2D source's
``data/processed/inputs_2d/<input_2d>.npz``. Writes ``data/processed/pelvis/triangulation.npz``
(world mm; format in :mod:`pose3d.priors.pelvis`), beside where other pelvis sources
(``priors.source``) lie, and the metrics ``data/metrics/priors.json``: triangulation MPJPE
overall and per action, pelvis error, RANSAC inlier fraction. The ``priors`` stage turns it
into ``pelvis_priors.npz``.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.detections.load import DetectionsError, frame_counts, load_detections
from pose3d.detections.sources import Source2D
from pose3d.h36m.cameras import CAMERA_IDS
from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, SequencesCsvError, read_exclusions
from pose3d.h36m.vp3d_format import load_3d
from pose3d.parallel import pmap
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
OUT = Path("data/processed/pelvis/triangulation.npz")
METRICS = Path("data/metrics/priors.json")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "triangulate", out={"type": Path, "default": OUT})
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
    subjects = list(ds.subjects)
    missing = [s for s in subjects if s not in poses_3d]
    if missing:
        fail(log, f"{POSES / 'data_3d_h36m.npz'}: has no subject {missing} of dataset.subjects")

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
                   desc="triangulate subjects", weights=[sum(frames[s].values()) for s in subjects])
    priors = dict(zip(subjects, results))
    usable = {s: {a: usable_views(v, settings, excluded.of(s, a)) for a, v in views[s].items()}
              for s in subjects}
    metrics = summarise(priors, usable)

    write_pelvis_priors(args.out, priors, source, threshold)
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    write_json(METRICS, metrics)
    seconds = time.time() - t0
    write_json(args.out.with_suffix(".provenance.json"),
               provenance(seconds=seconds, source_2d=source, ransac_threshold_px=threshold, subjects=subjects))
    log.info("triangulation MPJPE %.2f mm, pelvis error %.2f mm, RANSAC inliers %.3f, valid joints %.4f (%.1f s)",
             metrics["mpjpe_mm"], metrics["pelvis_error_mm"], metrics["ransac_inlier_fraction"],
             metrics["valid_joint_fraction"], seconds)


if __name__ == "__main__":
    main()
