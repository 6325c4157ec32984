"""DVC stage ``evaluate_algebraic@<experiment>`` / ``evaluate_volumetric@<experiment>``: score a multi-view experiment.

Metrics as learnable-triangulation and ContextPose report them: per pose, the mean over the 17
joints of the distance to the truth, absolute (world) and pelvis-relative; frame-pooled (their
"Average", every test frame weighs the same; ContextPose: every (frame, camera) sample) and
action-wise (the mean of the per-action means, the lifting seeds' convention), per action and
per subject. Every number names the pelvis it stands on (``pelvis_source``): the cube centre of
a volumetric model (the priors stage's pelvis, itself a triangulation or an algebraic
experiment's prediction, or the ground truth); an algebraic model triangulates its own. Beside
them, on the same frames: the priors stage's triangulation and the training set's mean pose
(relative; absolute on the model's pelvis source). Views and sequences convert excluded
(``dataset.exclude``) take no part.

An algebraic experiment also predicts every frame with crops of every subject and writes
``data/processed/pelvis/algebraic:<name>.npz`` in ``pelvis_priors.npz``'s format, the file that
``priors.source: algebraic:<name>`` reads.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from pose3d.h36m.sequences_csv import SequencesCsvError
from pose3d.h36m.vp3d_format import load_3d
from pose3d.images.crops import CropsError
from pose3d.io.atomic import replacing
from pose3d.metrics.aggregate import ErrorAccumulator
from pose3d.multiview.config import multiview_run
from pose3d.multiview.predict import pose_errors, predict
from pose3d.priors.pelvis import SequencePrior, load_pelvis_priors, write_pelvis_priors
from pose3d.training.checkpoints import load_checkpoint
from pose3d.training.loop import resolve_device
from stages.common import fail, provenance, section, start, write_json
from stages.train_multiview import POSES, PRIORS, build_model, load_tables

PELVIS_DIR = Path("data/processed/pelvis")
TRIANGULATION = PELVIS_DIR / "triangulation.npz"


def pelvis_source(run, params: dict) -> str:
    """What the cube centre (or, for an algebraic model, the pose) stands on, in words."""
    if run.model == "algebraic":
        return "own triangulation (no prior)"
    if run.pelvis == "gt":
        return "ground truth"
    priors = params.get("priors") or {}
    source = priors.get("source", "triangulation")
    if source == "triangulation":
        return f"priors stage: triangulation of {priors.get('input_2d')} 2D"
    return f"priors stage: {source}"


def accumulate(table, abs_err: np.ndarray, rel_err: np.ndarray) -> ErrorAccumulator:
    """The errors in the project's accumulator, one sequence per (subject, key, camera) (all views: "all")."""
    acc = ErrorAccumulator()
    cameras = table.camera[:, 0].astype(str) if table.items.shape[1] == 1 else np.full(len(table), "all")
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, g in enumerate(zip(table.subject, table.key, cameras)):
        groups.setdefault(g, []).append(i)
    for (s, k, c), idx in groups.items():
        acc.add(s, k, c, {"mpjpe_abs": abs_err[idx], "mpjpe_rel": rel_err[idx]})
    return acc


def summary(acc: ErrorAccumulator) -> dict:
    """learnable-triangulation's frame-pooled means and the lifting seeds' action-wise ones."""
    s = acc.summary()
    return {"mpjpe_abs_mm": s["mpjpe_abs_pooled"], "mpjpe_rel_mm": s["mpjpe_rel_pooled"],
            "mpjpe_abs_actionwise_mm": s["mpjpe_abs"], "mpjpe_rel_actionwise_mm": s["mpjpe_rel"], "frames": s["frames"]}


def scored_summary(table, pred: np.ndarray, mask: np.ndarray | None = None) -> dict:
    mask = np.ones(len(table), dtype=bool) if mask is None else mask
    return summary(accumulate(table.subset(mask), *pose_errors(pred[mask], table.joints[mask])))


def triangulation_at(table) -> np.ndarray:
    """The triangulate stage's 17 joints at the table's frames (NaN where it has none)."""
    tri = load_pelvis_priors(TRIANGULATION)
    return np.stack([tri[s][k]["keypoints_3d"][f] for s, k, f in zip(table.subject, table.key, table.frame)]).astype(float)


def write_predictions(path: Path, name: str, tables, preds, views) -> None:
    """Every subject's sequences at the mocap's length, the predicted frames filled, in the priors format."""
    poses = load_3d(POSES / "data_3d_h36m.npz")
    out = {s: {key: SequencePrior(np.full((len(seq), 17, 3), np.nan, np.float32), np.zeros((len(seq), 17), bool),
                                  np.zeros((len(seq), 17, 4), bool), np.full((len(seq), 17), np.nan, np.float32))
               for key, seq in actions.items()} for s, actions in poses.items()}
    for table, pred, used in zip(tables, preds, views):
        for i, (s, k, f) in enumerate(zip(table.subject, table.key, table.frame)):
            prior = out[s][k]
            ok = np.isfinite(pred[i]).all(-1)
            prior.keypoints_3d[f] = pred[i]
            prior.valid[f] = ok
            prior.inlier_views[f] = used[i][None, :] & ok[:, None]
            prior.error_mm[f] = np.linalg.norm(pred[i] - table.joints[i], axis=-1)
    with replacing(path) as tmp:
        write_pelvis_priors(tmp, out, f"algebraic:{name}", None)


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(__doc__, argv, "evaluate_multiview@{experiment}", experiment={"required": True})
    name = args.experiment
    settings = section(params, "evaluate", log)
    ds = params["dataset"]
    try:
        run = multiview_run(params, name)
        test = load_tables(params, run, list(ds["test_subjects"]))
        # an algebraic model also predicts the training frames: the priors stage's pelvis source
        train = load_tables(params, run, list(ds["train_subjects"])) if run.model == "algebraic" else None
        model = build_model(run)
        ckpt = load_checkpoint(Path("data/models") / name, settings.checkpoint)
        model.load_state_dict(ckpt.state_dict)
        mean_rel = np.asarray(json.loads((Path("data/models") / name / "config.json").read_text())["mean_pose_relative_mm"])
    except (KeyError, ValueError, OSError, CropsError, SequencesCsvError) as exc:
        fail(log, f"multi-view experiment {name!r}: {exc}")
    device = resolve_device(run.device)
    t0 = time.time()
    scored = test.single_views() if run.single_view else test
    pred = predict(model, run, scored, device)
    acc = accumulate(scored, *pose_errors(pred, scored.joints))
    source = pelvis_source(run, params)
    if run.model == "algebraic":
        mean_root = pred[:, :1]
    elif run.pelvis == "gt":
        mean_root = scored.joints[:, :1]
    else:
        mean_root = scored.pelvis[:, None]
    result = {
        "experiment": name, "family": run.model, "checkpoint": settings.checkpoint, "epoch": ckpt.epoch,
        "pelvis_source": source, **summary(acc),
        "views": "one view per sample (every frame and camera)" if run.single_view else "all present views",
        "per_subject": {s: {"pelvis_source": source, **scored_summary(scored, pred, scored.subject == s)}
                        for s in sorted(set(scored.subject))},
        "mean_pose": {"pelvis_source": source if run.model != "algebraic" else "the model's own pelvis",
                      **scored_summary(scored, mean_root + mean_rel[None])},
        "priors_triangulation": {"pelvis_source": "its own (triangulated) pelvis",
                                 **scored_summary(scored, triangulation_at(scored))},
    }
    if run.model != "algebraic":
        centre = scored.joints[:, 0] if run.pelvis == "gt" else scored.pelvis
        result["pelvis_error_mm"] = float(np.linalg.norm(centre - scored.joints[:, 0], axis=-1).mean())
    rows = acc.per_action().reset_index()[["action", "frames", "mpjpe_abs", "mpjpe_rel"]]
    rows = rows.rename(columns={"mpjpe_abs": "mpjpe_abs_mm", "mpjpe_rel": "mpjpe_rel_mm"}).assign(pelvis_source=source)
    out = Path("data/metrics") / name
    out.mkdir(parents=True, exist_ok=True)
    if run.model == "algebraic":
        train_pred = predict(model, run, train, device)
        path = PELVIS_DIR / f"algebraic:{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_predictions(path, name, [train, test], [train_pred, pred], [train.views, test.views])
        result["predicted_frames"] = {"train": len(train), "test": len(test)}
    write_json(out / "eval.json", result)
    rows.to_csv(out / "per_action.csv", index=False, float_format="%.4f")
    write_json(out / "eval.provenance.json", provenance(device=str(device), seconds=time.time() - t0))
    log.info("%s: MPJPE %.2f mm absolute, %.2f mm relative (frame-pooled, %d %s; pelvis: %s); mean pose %.2f mm "
             "relative, priors triangulation %.2f / %.2f mm", name, result["mpjpe_abs_mm"], result["mpjpe_rel_mm"],
             len(scored), "samples" if run.single_view else "frames", source, result["mean_pose"]["mpjpe_rel_mm"],
             result["priors_triangulation"]["mpjpe_abs_mm"], result["priors_triangulation"]["mpjpe_rel_mm"])


if __name__ == "__main__":
    main()
