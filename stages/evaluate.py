"""DVC stages ``evaluate@<experiment>`` and ``evaluate_phase@<phase>``: every metric of one trained
experiment, per action and joint.

Scores the checkpoint ``evaluate.checkpoint`` names: ``last`` (the last epoch, as VideoPose3D
evaluates) or ``best`` (the epoch with the lowest error on the held-out validation views of the
training subjects; never one chosen on the test set). Full test sequences go through the
evaluation form of the model (the dilated network for temporal models), with test-time flipping
unless ``evaluate.tta`` is false. Writes ``data/metrics/<name>/eval.json`` (DVC metrics: the
action-wise means of the headline test set, the frame-pooled means beside them, and which
checkpoint, 2D input and aggregation they are), ``per_action.csv`` and ``per_joint.csv``; a
protocol with several test sets (cross_action: ``unseen``, the headline, and ``all``, which holds
the training action too) gets one block or row set per set.

The experiment is scored on its ``eval_input_2d``. With ``evaluate.robustness`` it is also scored
under each named corruption of the ground-truth 2D (:mod:`pose3d.training.robustness`, every
``robustness_stride``-th frame of the headline test set, all corruptions batched in one pass):
``robustness.csv``, one row per corruption. An experiment that reads a detector's own confidences
(``use_scores`` on a source without the noise model) gets no rows: the corruptions' confidences
are on the noise model's scale, which it never saw.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from pose3d.detections.corruptions import perturbations
from pose3d.experiments import (experiment_config, experiment_data, skeleton_for, source_for, split_for,
                                trained_model, validation_for, window_twin)
from pose3d.h36m.vp3d_format import load_2d
from pose3d.training.holdout import describe
from pose3d.training.inference import predict_view
from pose3d.training.loop import resolve_device
from pose3d.training.robustness import COLUMNS, robustness_sweep
from pose3d.training.scoring import score_views
from stages.common import fail, provenance, section, start, write_json

POSES = Path("data/processed/poses")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "evaluate@{experiment}", experiment={"required": True})
    settings = section(params, "evaluate", log)
    tta = settings.tta
    try:
        cfg = experiment_config(params, args.experiment)
        cases = perturbations(settings.robustness)
        data = experiment_data(cfg, params, "eval_input_2d")
        split, val_subjects = validation_for(cfg, params, split_for(cfg, params, data.available))
    except (KeyError, ValueError, OSError) as exc:
        fail(log, f"experiment {args.experiment!r}: {exc}")
    try:
        model, checkpoint = trained_model(args.experiment, cfg, settings.checkpoint)
    except (OSError, ValueError) as exc:
        fail(log, f"{exc} (run the train stage of {args.experiment} first)")
    device = resolve_device(str(cfg.get("device", "auto")))
    model = model.to(device).eval()
    log.info("%s: scoring %s, %s", args.experiment, checkpoint.path, checkpoint.describe())
    rf, norm, skeleton = model.receptive_field, cfg.get("norm", "base"), skeleton_for(cfg)

    t0 = time.time()
    summaries, per_action, per_joint = {}, [], []
    for test_name, views in split.tests.items():
        acc = score_views(data, views, lambda v: predict_view(model, v, rf, device, tta=tta), norm, skeleton)
        summaries[test_name] = acc.summary()
        per_action.append(acc.per_action(averages=True).reset_index().assign(test_set=test_name))
        per_joint.append(acc.per_joint().reset_index().assign(test_set=test_name))
        s = summaries[test_name]
        log.info("%s [%s]: MPJPE %.1f mm, P-MPJPE %.1f mm (action-wise mean over %d actions; pooled %.1f / %.1f)",
                 args.experiment, test_name, s["mpjpe"], s["p_mpjpe"], s["actions"], s["mpjpe_pooled"], s["p_mpjpe_pooled"])

    out = Path("data/metrics") / args.experiment
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "eval.json", {
        **summaries[split.headline], "headline_set": split.headline, "test_sets": summaries, "tta": tta,
        "checkpoint": checkpoint.which, "checkpoint_epoch": checkpoint.epoch, "epochs": checkpoint.epochs,
        "selection": describe(split, val_subjects), "input_2d": cfg["input_2d"], "eval_input_2d": cfg["eval_input_2d"],
        "scores": data.scores, "joints": len(skeleton.parents),
        "aggregation": "mean over action groups (frame-pooled: *_pooled)",
    })
    pd.concat(per_action).to_csv(out / "per_action.csv", index=False, float_format="%.4f")
    pd.concat(per_joint).to_csv(out / "per_joint.csv", index=False, float_format="%.4f")
    seconds = time.time() - t0
    t1 = time.time()
    if data.scores and source_for(cfg, params).noise is None:
        # the corruptions' confidences follow the noise model's scale; a network that learned a detector's
        # own confidences (another scale) would be scored on inputs it never saw: no sweep, an empty table
        log.info("%s: no robustness sweep: it reads the confidences of %s, not the noise model's", args.experiment,
                 cfg["input_2d"])
        table = pd.DataFrame(columns=["experiment", *COLUMNS])
    else:
        gt_2d, _ = load_2d(POSES / "data_2d_h36m_gt.npz")
        table = robustness_sweep(window_twin(cfg, model), data, gt_2d, split.tests[split.headline], cases, rf, device,
                                 tta=tta, norm=norm, skeleton=skeleton, stride=settings.robustness_stride)
        table.insert(0, "experiment", args.experiment)
    table.to_csv(out / "robustness.csv", index=False, float_format="%.4f")
    for row in table.itertuples():
        log.info("%s [%s]: MPJPE %.1f mm, P-MPJPE %.1f mm (every %d-th frame)", args.experiment, row.corruption,
                 row.mpjpe, row.p_mpjpe, settings.robustness_stride)
    write_json(out / "eval.provenance.json", provenance(device=str(device), seconds=seconds,
                                                       robustness_seconds=time.time() - t1))


if __name__ == "__main__":
    main()
