"""Trained lifting models against two reference predictors, scored by the same evaluation code.

    make repro && .venv/bin/python benchmarks/lifting_baselines.py [--check]

Reads the ``data/metrics/<name>/eval.json`` of every experiment and phase of params.yaml
(written by ``evaluate@<name>`` / ``evaluate_phase@<name>``) and scores, on the same
cross-subject test views, with the same :func:`pose3d.training.scoring.score_views`:

- **mean pose**: the mean root-relative camera-frame pose of the training views, whatever the input;
- **nearest neighbour**: the 3D pose of the training frame whose 2D pose is closest, after
  centring each 2D pose on its root and scaling it to unit RMS radius (position and size
  in the image say nothing about the articulated pose).

An experiment is held against the baselines of its own joints (:func:`skeleton_for`: RS-Net is
scored on PoseAug's 16, so its baselines are fitted and scored on those 16 too), its own
normalisation and its own 2D: the nearest neighbour's table is built from the experiment's
training 2D (``input_2d``) and queried with its evaluation 2D (``eval_input_2d``). Prints MPJPE and P-MPJPE (action-wise means, mm), each model's error as a ratio
of the better baseline's (below 1 is better; "a wide margin" is well under 1), and its training
time (``data/models/<name>.provenance.json``; a phase's own time, then with the runs it continues).

``--check`` exits with status 1, naming them, when any experiment is not below both baselines in
MPJPE and in P-MPJPE: a model that a lookup table beats has not learnt to lift. Of a chain of
phases the last one is the experiment's result and is checked; the steps before it (RIE's stages
1 and 2, which the recipe exists to improve on) are printed beside it.
A missing ``eval.json`` is an error either way.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.experiments import (MODELS_DIR, SEQUENCES_CSV, experiment_config, experiment_names,  # noqa: E402
                                experiment_data, skeleton_for, split_for)
from pose3d.h36m.skeleton import Skeleton  # noqa: E402
from pose3d.training.data import PoseData, ViewData  # noqa: E402
from pose3d.training.scoring import score_views  # noqa: E402

EXEMPLAR_STRIDE = 5  # every 5th training frame as an exemplar (consecutive frames are near-duplicates)
DISTANCE_BLOCK = 2 ** 25  # query x exemplar distances computed at once (128 MB of float32)
METRICS = (("mpjpe", "MPJPE"), ("p_mpjpe", "P-MPJPE"))


def shape_2d(pose2d: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Root-centred, unit-RMS-radius 2D poses (N, J*2)."""
    x = torch.as_tensor(pose2d, dtype=torch.float32)
    x = x - x[:, :1]
    x = x / x.pow(2).sum(-1).mean(-1).sqrt().clamp_min(1e-8)[:, None, None]
    return x.flatten(1)


class NearestNeighbour:
    """Queries in blocks sized to the exemplar count, so memory stays bounded on the full dataset."""

    def __init__(self, train: list[ViewData]):
        self.keys = shape_2d(np.concatenate([v.pose2d[::EXEMPLAR_STRIDE] for v in train]))
        self.values = np.concatenate([v.pose3d[::EXEMPLAR_STRIDE] for v in train])
        self.block = max(1, DISTANCE_BLOCK // len(self.keys))

    def __call__(self, v: ViewData) -> np.ndarray:
        q = shape_2d(v.pose2d)
        idx = torch.cat([torch.cdist(part, self.keys).argmin(1) for part in q.split(self.block)])
        return self.values[idx.numpy()]


def baselines(train_data: PoseData, data: PoseData, train: list, test: list, norm: str,
              skeleton: Skeleton) -> dict[str, dict]:
    """Summaries of both reference predictors, fitted on ``train`` views of ``train_data`` and scored
    on ``test`` views of ``data``."""
    views = train_data.views(train, norm, skeleton)
    mean_pose = np.concatenate([v.pose3d for v in views]).mean(0)
    return {
        "mean training pose": score_views(data, test, lambda v: np.broadcast_to(mean_pose, v.pose3d.shape),
                                          norm, skeleton).summary(),
        "nearest neighbour (2D)": score_views(data, test, NearestNeighbour(views), norm, skeleton).summary(),
    }


def training_seconds(name: str) -> float | None:
    """``seconds`` of the train stage's provenance file (None when it has not run)."""
    path = ROOT / MODELS_DIR / f"{name}.provenance.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("seconds")


def minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every experiment (a chain: its last phase) beats both baselines of its skeleton")
    args = ap.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    sources: dict[str, PoseData] = {}  # one PoseData per 2D source

    def data_of(cfg: dict, key: str) -> PoseData:
        if cfg[key] not in sources:  # x, y only: the baselines take no scores
            sources[cfg[key]] = experiment_data({**cfg, "use_scores": False}, params, key, ROOT)
        return sources[cfg[key]]

    groups: dict[tuple, dict] = {}  # (train views, test views, norm, skeleton, 2D sources) -> its experiments
    missing, skipped, configs = [], [], {}
    for name in experiment_names(params):
        cfg = configs[name] = experiment_config(params, name)
        protocol = cfg.get("protocol", "cross_subject")
        if protocol != "cross_subject":
            skipped.append(f"{name} ({protocol})")
            continue
        path = ROOT / "data/metrics" / name / "eval.json"
        if not path.is_file():
            missing.append(name)
            continue
        summary = json.loads(path.read_text())
        skeleton, norm = skeleton_for(cfg), cfg.get("norm", "base")
        if summary.get("joints", len(skeleton.parents)) != len(skeleton.parents):
            raise SystemExit(f"{path}: scored on {summary['joints']} joints, but {name} lifts "
                             f"{len(skeleton.parents)}: re-run `dvc repro` for it")
        train_data, data = data_of(cfg, "input_2d"), data_of(cfg, "eval_input_2d")
        split = split_for(cfg, params, data.available, ROOT / SEQUENCES_CSV)
        test = split.tests[split.headline]
        key = (tuple(split.train), tuple(test), norm, skeleton.name, cfg["input_2d"], cfg["eval_input_2d"])
        group = groups.setdefault(key, {"skeleton": skeleton, "rows": [], "data": (train_data, data)})
        group["rows"].append((name, {m: summary[m] for m, _ in METRICS}))
    if missing:
        raise SystemExit(f"no data/metrics/<name>/eval.json for {', '.join(missing)}; run `make repro` "
                         f"(or `dvc repro evaluate@<name>` / `evaluate_phase@<name>`) first")
    if not groups:
        raise SystemExit("no cross_subject experiment under experiments: or phases: in params.yaml")

    def total_seconds(name: str) -> float | None:
        """A phase's training time with that of the runs it continues (``from``)."""
        own, parent = training_seconds(name), configs[name].get("from")
        if own is None or parent is None:
            return own
        before = total_seconds(parent)
        return None if before is None else own + before

    continued = {cfg["from"] for cfg in configs.values() if "from" in cfg}
    failures = []
    for (train, test, norm, _, train_2d, eval_2d), group in groups.items():
        skeleton = group["skeleton"]
        train_data, data = group["data"]
        base = baselines(train_data, data, list(train), list(test), norm, skeleton)
        best = {m: min(s[m] for s in base.values()) for m, _ in METRICS}
        frames = sum(len(data.positions_3d[s][k]) for s, k, _ in train)
        print(f"\n{skeleton.name} ({len(skeleton.parents)} joints, norm {norm}, 2D {train_2d} -> {eval_2d}): "
              f"{len(test)} cross-subject test views, {frames} training frames")
        print(f"{'predictor':28s} {'MPJPE':>8s} {'P-MPJPE':>8s} {'x best baseline (P1 / P2)':>26s} "
              f"{'train min':>10s} {'cumulative':>10s}")
        for name, s in base.items():
            print(f"{name:28s} {s['mpjpe']:8.1f} {s['p_mpjpe']:8.1f}")
        for name, s in group["rows"]:
            print(f"{name:28s} {s['mpjpe']:8.1f} {s['p_mpjpe']:8.1f} {s['mpjpe'] / best['mpjpe']:15.2f} / "
                  f"{s['p_mpjpe'] / best['p_mpjpe']:.2f}     {minutes(training_seconds(name)):>10s} "
                  f"{minutes(total_seconds(name)):>10s}")
            if name in continued:  # a step of a chain (RIE's stages 1 and 2): shown, not its result
                continue
            for metric, label in METRICS:
                if not s[metric] < best[metric]:  # below the better baseline = below both
                    which = min(base, key=lambda b: base[b][metric])
                    failures.append(f"{name} ({skeleton.name}): {label} {s[metric]:.1f} mm, "
                                    f"{which} {base[which][metric]:.1f} mm")
    if skipped:
        print(f"\nnot compared (baselines are cross-subject): {', '.join(skipped)}")
    if args.check:
        if failures:
            print("\nFAILED: not below both baselines of its skeleton (error, better baseline's error):\n  "
                  + "\n  ".join(failures), file=sys.stderr)
            raise SystemExit(1)
        print("\ncheck passed: every compared experiment, and the last phase of every chain, beats both "
              "baselines in MPJPE and P-MPJPE")


if __name__ == "__main__":
    main()
