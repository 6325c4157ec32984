"""DVC stage ``train@<experiment>``: train one lifting experiment of ``params.yaml``.

An experiment is ``train`` (common defaults) overlaid with ``experiments.<name>``.
Writes ``data/models/<name>/`` (``latest.pt``, ``best.pt``, ``config.json``) and DVCLive
logs in ``data/metrics/<name>/train/``. Resumes from ``latest.pt`` after an interruption.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from pose3d.training.batching import WindowBatcher
from pose3d.training.data import PoseData
from pose3d.training.loop import TrainConfig, fit, resolve_device
from pose3d.training.validation import validation_views, view_mpjpe_mm
from stages.common import fail, provenance, start, write_json
from stages.experiments import build_experiment_model, experiment_config, split_for

POSES = Path("data/processed/poses")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "train@{experiment}", experiment={"required": True})
    try:
        cfg = experiment_config(params, args.experiment)
        data = PoseData(POSES)
        split = split_for(cfg, params, data.available)
        torch.manual_seed(int(cfg.get("seed", 0)))  # same initial weights every run
        model = build_experiment_model(cfg, training=True)
        eval_model = build_experiment_model(cfg, training=False)
    except (KeyError, ValueError) as exc:
        fail(log, f"experiment {args.experiment!r}: {exc}")
    device = resolve_device(str(cfg.get("device", "auto")))
    rf, norm = model.receptive_field, cfg.get("norm", "base")
    batcher = WindowBatcher(data.views(split.train, norm), rf, device, int(cfg.get("frame_stride", 1)))
    val = data.views(validation_views(split, int(cfg.get("val_max_views", 64))), norm)
    log.info("%s: %s, %d training examples, receptive field %d, device %s",
             args.experiment, cfg["model"], len(batcher), rf, device)

    models_dir = Path("data/models") / args.experiment
    metrics_dir = Path("data/metrics") / args.experiment / "train"
    train_cfg = TrainConfig(**{k: cfg[k] for k in TrainConfig.__dataclass_fields__ if k in cfg})
    from dvclive import Live  # logging only: keeps the import off the library's path

    resuming = (models_dir / "latest.pt").is_file()
    with Live(dir=str(metrics_dir), resume=resuming, save_dvc_exp=False, dvcyaml=None) as live:
        def on_epoch(epoch: int, loss: float, mpjpe: float) -> None:
            live.log_metric("train/loss", loss)
            live.log_metric("val/mpjpe_mm", mpjpe)
            live.next_step()

        t0 = time.time()
        def validate(trained: torch.nn.Module) -> float:
            eval_model.load_state_dict(trained.state_dict())
            return view_mpjpe_mm(eval_model.to(device), val, rf, device)

        hist = fit(model, batcher, train_cfg, models_dir, validate, on_epoch=on_epoch)
    write_json(models_dir / "config.json", {
        "experiment": args.experiment, "config": cfg, "receptive_field": rf,
        "best_epoch": hist.best_epoch, "best_val_mpjpe_mm": hist.best_mpjpe_mm,
        "provenance": provenance(device=str(device), seconds=time.time() - t0),
    })
    log.info("%s: best validation MPJPE %.1f mm at epoch %d", args.experiment, hist.best_mpjpe_mm, hist.best_epoch)


if __name__ == "__main__":
    main()
