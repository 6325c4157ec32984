"""DVC stages ``train@<experiment>`` and ``train_phase@<phase>``: train one lifting experiment of ``params.yaml``.

An experiment is ``train`` (common defaults) overlaid with ``experiments.<name>``; a phase continues
another experiment's weights (:mod:`pose3d.experiments`). Writes ``data/models/<name>/``
(``latest.pt``, ``best.pt``, ``config.json``) and DVCLive logs in ``data/metrics/<name>/train/``.
Resumes from ``latest.pt`` after an interruption.
With ``nproc`` > 1 the stage starts itself again under ``torchrun`` with that many
processes (DistributedDataParallel: one per GPU, or gloo processes on a CPU).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from pose3d.experiments import (build_experiment_model, experiment_config, experiment_data, init_spec, initialise,
                                skeleton_for, split_for, train_config, validation_for)
from pose3d.training.batching import WindowBatcher
from pose3d.training.distributed import DistInfo, from_env, launched, setup, teardown
from pose3d.training.holdout import describe
from pose3d.models.registry import takes_camera
from pose3d.training.loop import fit, resolve_device
from pose3d.training.validation import validation_views, view_mpjpe_mm
from stages.common import code_digests, fail, file_digest, file_digests, provenance, start, write_json

POSES = Path("data/processed/poses")
#: stop after this many epochs in total and exit with status 3, as an interruption would
#: (checks that an interrupted run resumes exactly, or starts over when something changed)
STOP_AFTER_ENV = "POSE3D_STOP_AFTER_EPOCHS"


def torchrun(nproc: int, argv: list[str]) -> int:
    """Run this stage under ``torchrun`` on one node; returns its exit status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "stages.train", *argv]
    return subprocess.run(cmd).returncode


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args, log, params = start(__doc__, argv, "train@{experiment}", experiment={"required": True})
    try:
        cfg = experiment_config(params, args.experiment)
        nproc = int(cfg.get("nproc", 1))
        if nproc < 1:
            raise ValueError(f"nproc must be >= 1, got {nproc}")
    except (KeyError, ValueError) as exc:
        fail(log, f"experiment {args.experiment!r}: {exc}")
    if nproc > 1 and not launched():
        log.info("%s: starting %d processes under torchrun", args.experiment, nproc)
        raise SystemExit(torchrun(nproc, argv))
    info = from_env() if launched() else DistInfo()
    try:
        train(args.experiment, cfg, params, info, log)
    finally:
        teardown()


def train(name: str, cfg: dict, params: dict, info: DistInfo, log) -> None:
    try:
        data = experiment_data(cfg, params)
        split, val_subjects = validation_for(cfg, params, split_for(cfg, params, data.available))
        torch.manual_seed(int(cfg.get("seed", 0)))  # same initial weights every run
        model = build_experiment_model(cfg, training=True)
        eval_model = build_experiment_model(cfg, training=False)
        loaded = initialise(model, cfg)
    except (KeyError, ValueError, OSError) as exc:
        fail(log, f"experiment {name!r}: {exc}")
    if loaded is not None:
        log.info("%s: initialised from %s: %s", name, init_spec(cfg).describe(), loaded.describe())
    device = setup(info, resolve_device(str(cfg.get("device", "auto"))))
    rf, norm, skeleton = model.receptive_field, cfg.get("norm", "base"), skeleton_for(cfg)
    batcher = WindowBatcher(data.views(split.train, norm, skeleton), rf, device, int(cfg.get("frame_stride", 1)),
                            camera=takes_camera(model))
    val_views = validation_views(split, int(cfg.get("val_max_views", 64)))
    val = data.views(val_views, norm, skeleton) if info.is_main else []
    log.info("%s: %s, %d training examples from %s 2D%s, receptive field %d, device %s%s", name, cfg["model"],
             len(batcher), cfg["input_2d"], " with scores" if data.scores else "", rf, device,
             f", rank {info.rank} of {info.world}" if info.active else "")
    selection = describe(split, val_subjects)
    log.info("%s: %s", name, selection)

    models_dir = Path("data/models") / name
    metrics_dir = Path("data/metrics") / name / "train"
    train_cfg = train_config(cfg)

    def validate(trained: torch.nn.Module) -> float:
        eval_model.load_state_dict(trained.state_dict())
        return view_mpjpe_mm(eval_model.to(device), val, rf, device)

    # what makes two runs the same run: a checkpoint with any other identity is never resumed
    identity = {"experiment": cfg, "inputs": {**file_digests(POSES), "input_2d": file_digest(data.source)},
                "code": code_digests(),
                "split": {"train": split.train, "validation": split.validation}}  # the test views are evaluate's alone
    if loaded is not None:  # other starting weights make another run
        source = init_spec(cfg).path
        identity["init_from"] = file_digests(source) if source.is_dir() else file_digest(source)
    t0 = time.time()
    stop_after = int(os.environ.get(STOP_AFTER_ENV) or 0) or None
    if not info.is_main:
        fit(model, batcher, train_cfg, models_dir, validate, dist_info=info, identity=identity, stop_after=stop_after)
        return
    from dvclive import Live  # logging only: keeps the import off the library's path

    # a fresh log every run: fit replays the epochs it resumes from, so the log is always the whole run
    with Live(dir=str(metrics_dir), resume=False, save_dvc_exp=False, dvcyaml=None) as live:
        def on_epoch(epoch: int, loss: float, mpjpe: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("val/mpjpe_mm", mpjpe)
            live.next_step()

        hist = fit(model, batcher, train_cfg, models_dir, validate, on_epoch=on_epoch, dist_info=info,
                   identity=identity, stop_after=stop_after)
    if hist.epoch < train_cfg.epochs:
        log.error("%s: stopped after epoch %d of %d (%s); the next run resumes", name, hist.epoch,
                  train_cfg.epochs, STOP_AFTER_ENV)
        raise SystemExit(3)
    # config.json holds only what the run's settings and data decide (same bytes on every machine);
    # host, time and versions go to the provenance file beside the folder
    write_json(models_dir / "config.json", {
        "experiment": name, "config": cfg, "receptive_field": rf, "epochs": hist.epoch,
        "best_epoch": hist.best_epoch, "best_val_mpjpe_mm": round(hist.best_mpjpe_mm, 4),
        "last_val_mpjpe_mm": round(hist.val_mpjpe_mm[-1] if hist.val_mpjpe_mm else hist.best_mpjpe_mm, 4),
        "selection": selection, **({"init_from": loaded.describe()} if loaded is not None else {}),
    })
    write_json(models_dir.with_name(name + ".provenance.json"),
               provenance(device=str(device), processes=info.world, seconds=time.time() - t0))
    log.info("%s: validation MPJPE %.1f mm after the last epoch, best %.1f mm at epoch %d (%s)", name,
             hist.val_mpjpe_mm[-1] if hist.val_mpjpe_mm else hist.best_mpjpe_mm, hist.best_mpjpe_mm, hist.best_epoch,
             selection)


if __name__ == "__main__":
    main()
