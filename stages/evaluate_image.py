"""DVC stage ``evaluate_image@<experiment>``: score one trained image experiment on the test subjects' crops.

keypoints2d: PCK@0.05 and PCK@0.1 of the ground-truth person box's longer side and the mean error
in original-image pixels, overall, per action and per joint. integral: root-relative MPJPE, P-MPJPE
(Procrustes with scale, the lifting seeds' Protocol #2) and PA-MPJPE without scale (what
Integral's code prints as "Protocol #1"), action-wise and frame-pooled, beside the training
set's mean pose on the same crops. Both write sample crops with the predicted and the true joints
(``samples.npz``, for the report). The checkpoint is ``evaluate.checkpoint`` (last, or best on
the held-out validation crops); the flip test follows the experiment's ``flip_test``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pose3d.h36m.skeleton import H36M17
from pose3d.images.config import image_run, run_dict
from pose3d.images.crops import CropsError, load_crops
from pose3d.images.evaluate import backproject, keypoint_summary, pixel_errors, predict_crops
from pose3d.io.npz import write_npz
from pose3d.metrics.aggregate import ErrorAccumulator
from pose3d.metrics.errors import per_joint_errors, procrustes_align
from pose3d.training.checkpoints import load_checkpoint
from pose3d.training.loop import resolve_device
from stages.common import fail, provenance, section, start, write_json

SAMPLES = 8  # sample crops kept for the report


def keypoint_tables(crops, errors: np.ndarray) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    overall = keypoint_summary(errors, crops.box_px)
    actions = crops.action
    per_action = pd.DataFrame([{"action": a, **keypoint_summary(errors[actions == a], crops.box_px[actions == a])}
                               for a in sorted(set(actions))])
    per_joint = pd.DataFrame([{"joint": name, **{k: v for k, v in keypoint_summary(errors[:, [j]], crops.box_px).items()
                                                 if k != "frames"}} for j, name in enumerate(H36M17.joint_names)])
    return overall, per_action[["action", "pck_0.05", "pck_0.1", "mean_px", "frames"]], \
        per_joint[["joint", "pck_0.05", "pck_0.1", "mean_px"]]


def pa_noscale(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, J) joint errors after the best rotation and translation (no scale): Integral's "Protocol #1"."""
    out = np.empty(pred.shape[:2])
    for i in range(len(pred)):
        p = pred[i] - pred[i].mean(0)
        g = gt[i] - gt[i].mean(0)
        u, _, vt = np.linalg.svd(p.T @ g)
        d = np.sign(np.linalg.det(u @ vt))
        r = u @ np.diag([1.0, 1.0, d]) @ vt
        out[i] = np.linalg.norm(p @ r - g, axis=-1)
    return out


def integral_tables(crops, pred_rel: np.ndarray, gt_rel: np.ndarray, mean_pose: np.ndarray):
    """Per (subject, key, camera) group of crops: MPJPE, P-MPJPE, PA without scale, through the shared accumulator."""
    acc = ErrorAccumulator(H36M17.joint_names)
    groups = {}
    for i, g in enumerate(zip(crops.subject, crops.key, crops.camera)):
        groups.setdefault(g, []).append(i)
    for (s, k, c), idx in groups.items():
        p, g = pred_rel[idx], gt_rel[idx]
        joint = per_joint_errors(p, g)
        metrics = {"mpjpe": joint.mean(-1), "p_mpjpe": per_joint_errors(procrustes_align(p, g), g).mean(-1),
                   "pa_mpjpe_noscale": pa_noscale(p, g).mean(-1),
                   "mean_pose_mpjpe": per_joint_errors(np.broadcast_to(mean_pose, g.shape), g).mean(-1)}
        acc.add(s, k, int(c), metrics, joint)
    return acc


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "evaluate_image@{experiment}", experiment={"required": True})
    name = args.experiment
    settings = section(params, "evaluate", log)
    try:
        run = image_run(params, name)
        test = load_crops(list(params["dataset"]["test_subjects"]))
        train = load_crops(list(params["dataset"]["train_subjects"]))
        checkpoint = load_checkpoint(Path("data/models") / name, settings.checkpoint)
    except (KeyError, ValueError, OSError, CropsError) as exc:
        fail(log, f"image experiment {name!r}: {exc}")
    device = resolve_device(run.device)
    model = run.network()
    model.load_state_dict(checkpoint.state_dict)
    model = model.to(device).to(memory_format=torch.channels_last)
    log.info("%s: scoring %s, %s, on %d test crops", name, checkpoint.path, checkpoint.describe(), len(test))
    t0 = time.time()
    pred = predict_crops(model, run, test, device, run.flip_test, workers=run.workers)
    out = Path("data/metrics") / name
    out.mkdir(parents=True, exist_ok=True)
    common = {"family": run.model, "checkpoint": checkpoint.which, "checkpoint_epoch": checkpoint.epoch,
              "epochs": checkpoint.epochs, "flip_test": run.flip_test, "input_size": run.input_size,
              "test_subjects": list(params["dataset"]["test_subjects"]), "joints": 17, "config": run_dict(run)}
    if run.model == "keypoints2d":
        errors = pixel_errors(test, pred["uv"])
        overall, per_action, per_joint = keypoint_tables(test, errors)
        mean_uv = train.uv.mean(0)  # the mean pose in the box: what a detector must beat
        baseline = keypoint_summary(pixel_errors(test, np.broadcast_to(mean_uv, test.uv.shape)), test.box_px)
        write_json(out / "eval.json", {**overall, **common, "decode": run.decode, "units": "original-image pixels",
                                       "pck_reference": "longer side of the ground-truth person box",
                                       "mean_pose": baseline})
        log.info("%s: PCK@0.05 %.3f, PCK@0.1 %.3f, mean error %.2f px (mean pose in the box: %.3f / %.3f / %.2f px)",
                 name, overall["pck_0.05"], overall["pck_0.1"], overall["mean_px"], baseline["pck_0.05"],
                 baseline["pck_0.1"], baseline["mean_px"])
    else:
        xyz = backproject(test, pred["uv"], pred["z_rel_mm"])
        pred_rel = xyz - xyz[:, :1]
        gt_rel = (test.xyz_mm - test.xyz_mm[:, :1]).astype(np.float64)
        mean_pose = (train.xyz_mm - train.xyz_mm[:, :1]).astype(np.float64).mean(0)
        acc = integral_tables(test, pred_rel, gt_rel, mean_pose)
        summary = acc.summary()
        per_action = acc.per_action(averages=True).reset_index().assign(test_set="test")
        per_joint = acc.per_joint().reset_index().assign(test_set="test")
        write_json(out / "eval.json", {**summary, **common, "headline_set": "test",
                                       "root": "ground-truth box and root depth",
                                       "aggregation": "mean over action groups (frame-pooled: *_pooled); Integral's own "
                                                      "headline is frame-pooled",
                                       "protocols": "Integral's 'Protocol #1' = pa_mpjpe_noscale (Procrustes without "
                                                    "scale), its 'Protocol #2' = mpjpe; p_mpjpe is Procrustes with scale"})
        log.info("%s: MPJPE %.1f mm, P-MPJPE %.1f mm, PA without scale %.1f mm (pooled %.1f / %.1f); mean pose %.1f mm",
                 name, summary["mpjpe"], summary["p_mpjpe"], summary["pa_mpjpe_noscale"], summary["mpjpe_pooled"],
                 summary["pa_mpjpe_noscale_pooled"], summary["mean_pose_mpjpe"])
    # sample crops with the predicted (integral: the x, y of its volumes) and the true joints, for the report
    pick = np.linspace(0, len(test) - 1, min(SAMPLES, len(test))).round().astype(int)
    write_npz(out / "samples.npz", {
        "crops": np.stack([test.shards.image(int(test.items[i])) for i in pick]),
        "pred_px": pred["uv"][pick].astype(np.float32), "true_px": test.uv[pick].astype(np.float32),
        "subject": test.subject[pick], "action": test.action[pick], "camera": test.camera[pick].astype(str),
        "frame": test.frame[pick]})
    per_action.to_csv(out / "per_action.csv", index=False, float_format="%.4f")
    per_joint.to_csv(out / "per_joint.csv", index=False, float_format="%.4f")
    write_json(out / "eval.provenance.json", provenance(device=str(device), seconds=time.time() - t0))


if __name__ == "__main__":
    main()
