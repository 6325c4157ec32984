"""DVC stage ``synthesize``: write the synthetic Human3.6M stand-in in the official layout.

Reads ``dataset`` (source, raw_dir, subjects) and ``synthesize`` (profile, seed, workers,
dask_address, videos). ``synthesize.videos`` selects the subjects and actions that also
get rendered videos and bounding-box masks; without it only the pose files are written.
With ``dataset.source: real`` it writes nothing but a note, so a real download never gets
mixed with generated data.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.io.atomic import replacing_dir
from pose3d.parallel import pmap
from pose3d.synth.archive import SubjectJob, video_options, video_plan, video_record, write_subject
from pose3d.synth.manifest import MANIFEST, write_manifest
from pose3d.synth.profiles import get_profile
from pose3d.synth.video_writer import pick_codec
from pose3d.params import as_dict
from stages.common import fail, provenance, section, start, write_json

OUT = Path("data/raw/synthetic")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "synthesize", out={"type": Path, "default": OUT})
    ds, syn = section(params, "dataset", log), section(params, "synthesize", log)

    t0 = time.time()
    with replacing_dir(args.out) as tmp:
        if ds.source == "synthetic":
            _generate(tmp, ds, syn, log)
        else:
            (tmp / "NOT_GENERATED.txt").write_text(
                f"dataset.source is {ds.source!r}: poses are read from {ds.raw_dir}\n"
            )
            log.info("dataset.source=%s: no synthetic data generated", ds.source)
    # Kept outside the data folder: the data must be byte-identical for equal params.
    write_json(args.out.with_name(args.out.name + ".provenance.json"), provenance(seconds=time.time() - t0))


def _generate(tmp: Path, ds, syn, log) -> None:
    try:
        profile = get_profile(syn.profile)
    except ValueError as exc:
        fail(log, f"params.yaml synthesize.profile: {exc}")
    subjects = list(ds.subjects)
    seed = syn.seed
    try:
        videos = video_options(as_dict(syn.videos), subjects)
        if videos:
            pick_codec()  # fail before any work when this PyAV build cannot encode
    except (ValueError, RuntimeError) as exc:
        fail(log, f"params.yaml: {exc}")
    t0 = time.time()
    root = str(tmp.resolve())  # absolute: Dask workers
    jobs = [SubjectJob(root, s, profile.name, seed, videos.get(s)) for s in subjects]
    plans = [video_plan(j) for j in jobs]
    # videos cost far more than poses: start their subjects first
    weights = [1.0 + sum(p.values()) / 500 for p in plans]
    frames = pmap(
        write_subject, jobs, workers=syn.workers, dask_address=syn.dask_address,
        desc="synthesize subjects", weights=weights,
    )
    total = sum(sum(f.values()) for f in frames)
    n_videos = sum(len(p) for p in plans)
    log.info("wrote %d subjects, %d pose frames per camera, %d videos in %.1f s",
             len(jobs), total, n_videos, time.time() - t0)
    write_manifest(tmp, profile.name, seed, dict(zip(subjects, frames)), video_record(jobs))
    log.info("profile %s, seed %d; manifest %s", profile.name, seed, MANIFEST)


if __name__ == "__main__":
    main()
