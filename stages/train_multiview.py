"""DVC stage ``train_algebraic@<experiment>`` / ``train_volumetric@<experiment>``: train one multi-view experiment.

``algebraic``: per-view heatmaps and confidences, weighted DLT (learnable-triangulation), from a
keypoints2d experiment's weights (``init_from``). ``volumetric`` and ``contextpose``: a cube on
the ``priors`` stage's pelvis (``pelvis: gt`` for the true one), V2V, world soft-argmax;
ContextPose's attention reads ``limb_stats.h5``. Samples are the frames stage's crops of the
training subjects grouped over the four cameras (:mod:`pose3d.multiview.samples`; views convert
excluded are masked). The later sub-action of each action of the validation subjects is held
out: the best checkpoint and the per-epoch log read only those frames (pelvis-relative MPJPE),
never a test subject. Writes ``data/models/<name>/`` and DVCLive logs in
``data/metrics/<name>/train/``; resumes from ``latest.pt`` when it is the same run.
"""
from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from pose3d.experiments import init_spec, initialise
from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, SequencesCsvError, read_exclusions
from pose3d.images.crops import FRAMES_DIR, CropsError
from pose3d.models.registry import count_parameters
from pose3d.multiview.batcher import MultiViewBatcher
from pose3d.multiview.config import multiview_run, run_dict
from pose3d.multiview.losses import algebraic_loss, contextpose_loss, volumetric_loss
from pose3d.multiview.predict import pose_errors, predict
from pose3d.multiview.samples import load_multiview
from pose3d.priors.limbs import read_limb_stats
from pose3d.training.holdout import held_out_rows
from pose3d.training.loop import fit, resolve_device
from stages.common import code_digests, fail, file_digest, provenance, start, write_json
from stages.train import STOP_AFTER_ENV

POSES = Path("data/processed/poses")
PRIORS = Path("data/processed/priors")


def split_frames(table, train_subjects: list[str], val_subjects, max_val: int):
    """(training frames, validation frames, validation subjects): the later sub-actions held out."""
    train, val, subjects = held_out_rows(table.subject, table.key, train_subjects, val_subjects, max_val)
    return table.subset(train), table.subset(val), subjects


def load_tables(params: dict, run, subjects: list[str]):
    """The multi-view frames of ``subjects`` with the pelvis priors a volumetric run centres on."""
    excluded = read_exclusions(POSES / SEQUENCES_CSV).views()
    priors = PRIORS / "pelvis_priors.npz" if run.model != "algebraic" and run.pelvis == "priors" else None
    return load_multiview(subjects, excluded, priors, min_views=2 if run.model == "algebraic" else 1)


def build_model(run):
    """The run's network (ContextPose with the training subjects' limb statistics)."""
    if run.model != "contextpose":
        return run.network()
    stats = read_limb_stats(PRIORS / "limb_stats.h5")
    return run.network(stats.mean, stats.std)


def criterion_for(run):
    if run.model == "algebraic":
        return algebraic_loss
    if run.model == "volumetric":
        return volumetric_loss
    return partial(contextpose_loss, cube_side_mm=run.cube_side_mm, cube_size=run.cube_size)


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "train_multiview@{experiment}", experiment={"required": True})
    name = args.experiment
    try:
        run = multiview_run(params, name)
        train_subjects = list(params["dataset"]["train_subjects"])
        table = load_tables(params, run, train_subjects)
        train, val, val_subjects = split_frames(table, train_subjects, run.val_subjects, run.val_max_frames)
        mean_pose = (train.joints - train.joints[:, :1]).mean(0)  # every training frame, before the stride
        train = train.subset(np.arange(len(train)) % max(1, run.frame_stride) == 0)
        torch.manual_seed(run.seed)  # same initial weights every run
        model = build_model(run)
        spec = run.init_spec
        loaded = initialise(model, {"init_from": spec}) if spec else None
    except (KeyError, ValueError, OSError, CropsError, SequencesCsvError) as exc:
        fail(log, f"multi-view experiment {name!r}: {exc}")
    if loaded is not None:
        log.info("%s: initialised from %s: %s", name, init_spec({"init_from": spec}).describe(), loaded.describe())
    device = resolve_device(run.device)
    batcher = MultiViewBatcher(train, run, device, workers=run.workers)
    log.info("%s: %s (ResNet-%d, %d px input%s), %d training frames of %s, %d validation frames of %s, device %s",
             name, run.model, run.resnet, run.input_size,
             "" if run.model == "algebraic" else f", {run.cube_size}^3 cube on the {run.pelvis} pelvis",
             len(train), ", ".join(train_subjects), len(val), ", ".join(val_subjects), device)
    models_dir = Path("data/models") / name
    metrics_dir = Path("data/metrics") / name / "train"
    inputs = {"frames": {s: file_digest(FRAMES_DIR / s / "index.csv") for s in train_subjects},
              **{f: file_digest(POSES / f) for f in ("data_3d_h36m.npz", SEQUENCES_CSV)}}
    if run.model != "algebraic":
        inputs["priors"] = {f: file_digest(PRIORS / f) for f in ("pelvis_priors.npz", "limb_stats.h5")}
    identity = {"experiment": run_dict(run), "code": code_digests(), "inputs": inputs}
    if loaded is not None:
        identity["init_from"] = file_digest(Path(loaded.source))
    val_table = val.single_views() if run.single_view else val

    def validate(trained: torch.nn.Module) -> float:
        pred = predict(trained, run, val_table, device)
        return float(np.nanmean(pose_errors(pred, val_table.joints)[1]))

    from dvclive import Live  # logging only: keeps the import off the library's path

    t0 = time.time()
    stop_after = int(os.environ.get(STOP_AFTER_ENV) or 0) or None
    with Live(dir=str(metrics_dir), resume=False, save_dvc_exp=False, dvcyaml=None) as live:
        def on_epoch(epoch: int, loss: float, error: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("val/mpjpe_relative_mm", error)
            live.next_step()

        cfg = run.train_config()
        hist = fit(model, batcher, cfg, models_dir, validate, on_epoch=on_epoch, identity=identity,
                   stop_after=stop_after, criterion=criterion_for(run), val_label="validation relative MPJPE (mm)",
                   lr_factors=run.lr_factors)
    if hist.epoch < cfg.epochs:
        log.error("%s: stopped after epoch %d of %d (%s); the next run resumes", name, hist.epoch, cfg.epochs,
                  STOP_AFTER_ENV)
        raise SystemExit(3)
    seconds = time.time() - t0
    write_json(models_dir / "config.json", {
        "experiment": name, "family": run.model, "config": run_dict(run), "epochs": hist.epoch,
        "parameters": count_parameters(model), "trainable_parameters": count_parameters(model, trainable_only=True),
        "train_frames": len(train), "validation_frames": len(val), "validation_subjects": val_subjects,
        # the baseline evaluate@ sets beside the model, so that it need not read the training frames again
        "mean_pose_relative_mm": mean_pose.round(4).tolist(),
        "best_epoch": hist.best_epoch, "best_val_mpjpe_relative_mm": round(hist.best_mpjpe_mm, 4),
        "last_val_mpjpe_relative_mm": round(hist.val_mpjpe_mm[-1], 4) if hist.val_mpjpe_mm else None,
        "train_loss": [round(v, 6) for v in hist.train_loss],
        **({"init_from": loaded.describe()} if loaded is not None else {}),
    })
    write_json(models_dir.with_name(name + ".provenance.json"), provenance(device=str(device), seconds=seconds))
    log.info("%s: validation relative MPJPE %.2f mm after the last epoch (best %.2f at epoch %d), %.1f min", name,
             hist.val_mpjpe_mm[-1], hist.best_mpjpe_mm, hist.best_epoch, seconds / 60)


if __name__ == "__main__":
    main()
