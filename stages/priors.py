"""DVC stage ``priors``: the pelvis priors from the chosen pelvis source, and limb-length statistics.

Reads ``priors.source`` (``triangulation``, or ``algebraic:<experiment>``: that experiment's
predictions replace the triangulated frames they have) and ``dataset.subjects`` /
``dataset.train_subjects``. Inputs: ``data/processed/pelvis/triangulation.npz`` (the
``triangulate`` stage), ``data/processed/pelvis/<source>.npz`` and the 3D ground truth. Writes
``data/processed/priors/pelvis_priors.npz`` (the merged priors with ``from_source`` per frame;
format in :mod:`pose3d.priors.pelvis`) and ``limb_stats.h5`` (ContextPose's ``mean``/``std`` per
limb, mm, training subjects), and the metrics ``data/metrics/pelvis_priors.json``: the fraction
of frames from the source and the pelvis error, overall, per subject and on the source's frames.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pose3d.h36m.skeleton import to_17
from pose3d.h36m.vp3d_format import load_3d
from pose3d.io.atomic import replacing_dir
from pose3d.priors.limbs import limb_statistics, write_limb_stats
from pose3d.priors.merge import TRIANGULATION, PelvisSourceError, merge_metrics, merge_priors, read_priors, source_file
from pose3d.priors.pelvis import load_pelvis_meta, write_pelvis_priors
from stages.common import fail, provenance, section, start, write_json

POSES = Path("data/processed/poses")
PELVIS = Path("data/processed/pelvis")
OUT = Path("data/processed/priors")
METRICS = Path("data/metrics/pelvis_priors.json")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "priors", out={"type": Path, "default": OUT})
    cfg, ds = section(params, "priors", log), section(params, "dataset", log)
    subjects, train = list(ds.subjects), list(ds.train_subjects)
    if not train or set(train) - set(subjects):
        fail(log, f"params.yaml dataset.train_subjects {train} must be a non-empty subset of "
                  f"dataset.subjects {subjects}")
    if not (POSES / "data_3d_h36m.npz").is_file():
        fail(log, f"{POSES / 'data_3d_h36m.npz'}: missing (run the convert stage first)")
    t0 = time.time()
    poses_3d = load_3d(POSES / "data_3d_h36m.npz")
    missing = [s for s in subjects if s not in poses_3d]
    if missing:
        fail(log, f"{POSES / 'data_3d_h36m.npz'}: has no subject {missing} of dataset.subjects")

    tri_path, src_path = PELVIS / f"{TRIANGULATION}.npz", source_file(PELVIS, cfg.source)
    try:
        tri_all = read_priors(tri_path, "run the triangulate stage first")
        missing = [s for s in subjects if s not in tri_all]
        if missing:
            raise PelvisSourceError(f"{tri_path}: has no subject {missing} of dataset.subjects "
                                    "(run the triangulate stage again)")
        triangulation = {s: tri_all[s] for s in subjects}
        source = tri_all if src_path == tri_path else read_priors(
            src_path, f"the evaluation of experiment {cfg.source.partition(':')[2]!r} writes it")
        merged = merge_priors(triangulation, source, src_path)
        meta = load_pelvis_meta(tri_path)
        if not {"source_2d", "ransac_threshold_px"} <= set(meta):
            raise PelvisSourceError(f"{tri_path}: has no meta/source_2d or meta/ransac_threshold_px")
    except PelvisSourceError as exc:
        fail(log, str(exc))
    threshold = float(meta["ransac_threshold_px"])
    threshold = None if np.isnan(threshold) else threshold
    source_2d = str(meta["source_2d"])
    metrics = merge_metrics(merged, triangulation, cfg.source)

    poses_mm = {s: {a: to_17(arr).astype(np.float64) * 1000.0 for a, arr in poses_3d[s].items()} for s in subjects}
    pooled, per_subject = limb_statistics(poses_mm, train)
    _, per_all = limb_statistics(poses_mm, subjects)
    with replacing_dir(args.out) as tmp:
        write_pelvis_priors(tmp / "pelvis_priors.npz", merged, source_2d, threshold, pelvis_source=cfg.source)
        write_limb_stats(tmp / "limb_stats.h5", pooled, {**per_all, **per_subject}, train)

    metrics["limb_length_mean_mm"] = float(pooled.mean.mean())
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    write_json(METRICS, metrics)
    seconds = time.time() - t0
    write_json(args.out.with_name(args.out.name + ".provenance.json"),
               provenance(seconds=seconds, pelvis_source=cfg.source, source_2d=source_2d,
                          ransac_threshold_px=threshold, subjects=subjects))
    log.info("pelvis from %s on %.1f %% of %d frames; pelvis error %.2f mm (%.1f s)", cfg.source,
             100 * metrics["from_source_fraction"], metrics["frames"], metrics["pelvis_error_mm"], seconds)


if __name__ == "__main__":
    main()
