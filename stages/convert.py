"""DVC stage ``convert``: official pose CDFs (real or synthetic) -> VideoPose3D npz files.

Reads ``dataset`` (raw_dir, subjects, exclude, verify_md5) and ``convert``. ``raw_dir`` is
an extracted tree or a folder of the official ``.tgz`` downloads. Writes
``data/processed/poses/``: ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``,
``cameras.json`` and ``sequences.csv``. Any bad file stops the stage with its path
and the problem, and nothing is written.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.h36m.archives import has_archives
from pose3d.h36m.cameras import SUBJECTS_LABELLED
from pose3d.h36m.cdf_io import PoseFileError
from pose3d.h36m.convert import convert_archive
from pose3d.h36m.sequences import resolve_rules, subject_sequences
from pose3d.io.atomic import replacing_dir
from pose3d.synth.manifest import read_manifest
from stages.common import fail, provenance, section, start, write_json

OUT = Path("data/processed/poses")


def expected_frames(raw_dir: Path, subjects: list[str]) -> dict[str, dict[str, int]]:
    """Pose frames per subject and file: the official table, or the stand-in's manifest."""
    manifest = read_manifest(raw_dir)
    if manifest is None:
        return {s: {q.file_base: q.pose_frames for q in subject_sequences(s)} for s in subjects}
    missing = [s for s in subjects if s not in manifest["pose_frames"]]
    if missing:
        raise PoseFileError(raw_dir / "synthetic_manifest.json", f"has no subject {', '.join(missing)}")
    return {s: dict(manifest["pose_frames"][s]) for s in subjects}


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "convert", out={"type": Path, "default": OUT})
    ds, cfg = section(params, "dataset", log), section(params, "convert", log)
    raw_dir = Path(ds.raw_dir)
    subjects = list(ds.subjects)
    unknown = [s for s in subjects if s not in SUBJECTS_LABELLED]
    if unknown:
        fail(log, f"params.yaml dataset.subjects: {unknown} have no public poses; use {list(SUBJECTS_LABELLED)}")
    if not raw_dir.is_dir():
        fail(log, f"{raw_dir}: dataset.raw_dir does not exist")

    archives = has_archives(raw_dir)
    if archives:
        log.info("%s holds .tgz downloads: reading the archives directly", raw_dir)
    t0 = time.time()
    try:
        rules = tuple(resolve_rules(ds.exclude))
        expected = expected_frames(raw_dir, subjects)
        with replacing_dir(args.out) as tmp:
            results = convert_archive(
                raw_dir, expected, tmp, rules,
                reproj_tol_px=cfg.reproj_tol_px,
                check_mono=cfg.check_mono,
                mono_tol_mm=cfg.mono_tol_mm,
                workers=cfg.workers,
                dask_address=cfg.dask_address,
                archives=archives,
                verify_md5=ds.verify_md5,
            )
    except (PoseFileError, ValueError) as exc:
        fail(log, f"convert failed: {exc}")
    kept = [row for r in results for row in r.rows if not row["excluded"]]
    n, frames = len(kept), sum(row["pose_frames"] for row in kept)
    log.info("converted %d sequences (%d frames per camera) of %d subjects in %.1f s",
             n, frames, len(subjects), time.time() - t0)
    write_json(args.out.with_name(args.out.name + ".provenance.json"),
               provenance(seconds=time.time() - t0, raw_dir=str(raw_dir), sequences=n, frames_per_camera=frames))


if __name__ == "__main__":
    main()
