"""DVC stage ``train_image@<experiment>``: train one image experiment of ``params.yaml`` (``image_experiments``).

A ``keypoints2d`` experiment learns 17 heatmaps, an ``integral`` one 17 depth x height x width
volumes, from the frames stage's crops of the training subjects (:mod:`pose3d.images`). The later
sub-action of each action of the validation subjects is held out (the best checkpoint and the
per-epoch log read only those crops, never a test subject). Writes ``data/models/<name>/``
(``latest.pt``, ``best.pt``, ``config.json``) and DVCLive logs in ``data/metrics/<name>/train/``;
resumes from ``latest.pt`` when it is the same run.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from pose3d.experiments import initialise, init_spec
from pose3d.images.batcher import ImageBatcher
from pose3d.images.config import image_run, run_dict
from pose3d.images.crops import FRAMES_DIR, CropsError, load_crops
from pose3d.images.evaluate import backproject, pixel_errors, predict_crops
from pose3d.images.targets import joint_location_loss
from pose3d.training.holdout import held_out_rows
from pose3d.training.loop import fit, resolve_device
from pose3d.training.losses import FINAL
from stages.common import code_digests, fail, file_digest, provenance, start, write_json
from stages.train import STOP_AFTER_ENV

POSES = Path("data/processed/poses")


def split_crops(crops, train_subjects: list[str], val_subjects: list[str] | None, max_val: int):
    """(training crops, validation crops, validation subjects): the later sub-actions held out."""
    train, val, subjects = held_out_rows(crops.subject, crops.key, train_subjects, val_subjects, max_val)
    return crops.subset(train), crops.subset(val), subjects


def validation_error(model, run, crops, device) -> float:
    """keypoints2d: mean error in original-image pixels; integral: root-relative MPJPE in mm."""
    pred = predict_crops(model, run, crops, device, flip_test=False, workers=0)
    if run.model == "keypoints2d":
        return float(pixel_errors(crops, pred["uv"]).mean())
    xyz = backproject(crops, pred["uv"], pred["z_rel_mm"])
    rel = xyz - xyz[:, :1]
    gt = crops.xyz_mm - crops.xyz_mm[:, :1]
    return float(np.linalg.norm(rel - gt, axis=-1).mean())


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "train_image@{experiment}", experiment={"required": True})
    name = args.experiment
    try:
        run = image_run(params, name)
        train_subjects = list(params["dataset"]["train_subjects"])
        crops = load_crops(train_subjects)
        train, val, val_subjects = split_crops(crops, train_subjects, run.val_subjects, run.val_max_crops)
        train = train.subset(np.arange(len(train)) % max(1, run.frame_stride) == 0)
        torch.manual_seed(run.seed)  # same initial weights every run
        model = run.network()
        spec = dict(run.init_from or {})
        if spec.get("file"):
            spec.setdefault("strict", False)  # an ImageNet or pose_resnet file: the head is new
        loaded = initialise(model, {"init_from": spec}) if spec else None
    except (KeyError, ValueError, OSError, CropsError) as exc:
        fail(log, f"image experiment {name!r}: {exc}")
    if loaded is not None:
        log.info("%s: initialised from %s: %s", name, init_spec({"init_from": spec}).describe(), loaded.describe())
    device = resolve_device(run.device)
    batcher = ImageBatcher(train, run, device, workers=run.workers)
    unit = "px" if run.model == "keypoints2d" else "mm"
    log.info("%s: %s (ResNet-%d, %d px input), %d training crops of %s, %d validation crops of %s, device %s",
             name, run.model, run.resnet, run.input_size, len(train), ", ".join(train_subjects), len(val),
             ", ".join(val_subjects), device)
    models_dir = Path("data/models") / name
    metrics_dir = Path("data/metrics") / name / "train"
    frames_digests = {s: file_digest(FRAMES_DIR / s / "index.csv") for s in train_subjects}
    identity = {"experiment": run_dict(run), "code": code_digests(),
                "inputs": {"frames": frames_digests, **{f: file_digest(POSES / f) for f in
                                                          ("data_2d_h36m_gt.npz", "data_3d_h36m.npz")}}}
    if loaded is not None:
        identity["init_from"] = file_digest(Path(loaded.source))

    def validate(trained: torch.nn.Module) -> float:
        return validation_error(trained, run, val, device)

    def criterion(outputs: dict, target: torch.Tensor) -> torch.Tensor:
        return joint_location_loss(outputs[FINAL], target)

    from dvclive import Live  # logging only: keeps the import off the library's path

    t0 = time.time()
    stop_after = int(os.environ.get(STOP_AFTER_ENV) or 0) or None
    with Live(dir=str(metrics_dir), resume=False, save_dvc_exp=False, dvcyaml=None) as live:
        def on_epoch(epoch: int, loss: float, error: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric(f"val/error_{unit}", error)
            live.next_step()

        cfg = run.train_config()
        hist = fit(model, batcher, cfg, models_dir, validate, on_epoch=on_epoch, identity=identity,
                   stop_after=stop_after, criterion=criterion, val_label=f"validation error ({unit})")
    if hist.epoch < cfg.epochs:
        log.error("%s: stopped after epoch %d of %d (%s); the next run resumes", name, hist.epoch, cfg.epochs,
                  STOP_AFTER_ENV)
        raise SystemExit(3)
    write_json(models_dir / "config.json", {
        "experiment": name, "family": run.model, "config": run_dict(run), "epochs": hist.epoch,
        "train_crops": len(train), "validation_crops": len(val), "validation_subjects": val_subjects,
        "best_epoch": hist.best_epoch, f"best_val_error_{unit}": round(hist.best_mpjpe_mm, 4),
        f"last_val_error_{unit}": round(hist.val_mpjpe_mm[-1], 4) if hist.val_mpjpe_mm else None,
        "train_loss": [round(v, 6) for v in hist.train_loss],
        **({"init_from": loaded.describe()} if loaded is not None else {}),
    })
    write_json(models_dir.with_name(name + ".provenance.json"),
               provenance(device=str(device), seconds=time.time() - t0))
    log.info("%s: validation error %.2f %s after the last epoch (best %.2f at epoch %d)", name,
             hist.val_mpjpe_mm[-1], unit, hist.best_mpjpe_mm, hist.best_epoch)


if __name__ == "__main__":
    main()
