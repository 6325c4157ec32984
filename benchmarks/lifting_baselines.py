"""Trained lifting models against two reference predictors, scored by the same evaluation code.

    make repro && .venv/bin/python benchmarks/lifting_baselines.py

Reads each default experiment's ``data/metrics/<name>/eval.json`` (written by
``evaluate@<name>``) and scores, on the same cross-subject test views, with the same
:func:`pose3d.training.scoring.score_views`:

- **mean pose**: the mean root-relative camera-frame pose of the training views, whatever the input;
- **nearest neighbour**: the 3D pose of the training frame whose 2D pose is closest, after
  centring each 2D pose on its root and scaling it to unit RMS radius (position and size
  in the image say nothing about the articulated pose).

Prints MPJPE and P-MPJPE (action-wise means, mm) and each model's error as a ratio of the
better baseline's (below 1 is better; "a wide margin" is well under 1).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pose3d.training.data import PoseData, ViewData  # noqa: E402
from pose3d.training.scoring import score_views  # noqa: E402
from pose3d.experiments import experiment_config, split_for  # noqa: E402

EXEMPLAR_STRIDE = 5  # every 5th training frame as an exemplar (consecutive frames are near-duplicates)


def shape_2d(pose2d: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Root-centred, unit-RMS-radius 2D poses (N, J*2)."""
    x = torch.as_tensor(pose2d, dtype=torch.float32)
    x = x - x[:, :1]
    x = x / x.pow(2).sum(-1).mean(-1).sqrt().clamp_min(1e-8)[:, None, None]
    return x.flatten(1)


class NearestNeighbour:
    def __init__(self, train: list[ViewData]):
        self.keys = shape_2d(np.concatenate([v.pose2d[::EXEMPLAR_STRIDE] for v in train]))
        self.values = np.concatenate([v.pose3d[::EXEMPLAR_STRIDE] for v in train])

    def __call__(self, v: ViewData) -> np.ndarray:
        q = shape_2d(v.pose2d)
        idx = torch.cat([torch.cdist(part, self.keys).argmin(1) for part in q.split(4096)])
        return self.values[idx.numpy()]


def main() -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = PoseData(ROOT / "data/processed/poses")
    rows = []
    split = None
    for name in params.get("experiments", {}):
        cfg = experiment_config(params, name)
        if cfg.get("protocol", "cross_subject") != "cross_subject":
            continue
        path = ROOT / "data/metrics" / name / "eval.json"
        if not path.is_file():
            raise SystemExit(f"{path}: missing; run `make repro` (or `dvc repro evaluate@{name}`) first")
        summary = json.loads(path.read_text())
        rows.append((name, summary["mpjpe"], summary["p_mpjpe"]))
        split = split or split_for(cfg, params, data.available)
    if split is None:
        raise SystemExit("no cross_subject experiment under experiments: in params.yaml")

    train = data.views(split.train)
    test = split.tests["test"]
    mean_pose = np.concatenate([v.pose3d for v in train]).mean(0)
    baselines = {
        "mean training pose": score_views(data, test, lambda v: np.broadcast_to(mean_pose, v.pose3d.shape)),
        "nearest neighbour (2D)": score_views(data, test, NearestNeighbour(train)),
    }
    base = {k: acc.summary() for k, acc in baselines.items()}
    best_mpjpe = min(s["mpjpe"] for s in base.values())
    best_pmpjpe = min(s["p_mpjpe"] for s in base.values())

    print(f"cross-subject test views: {len(test)}, training frames: {sum(len(v.pose3d) for v in train)}")
    print(f"{'predictor':28s} {'MPJPE':>8s} {'P-MPJPE':>8s} {'x best baseline (P1 / P2)':>28s}")
    for name, s in base.items():
        print(f"{name:28s} {s['mpjpe']:8.1f} {s['p_mpjpe']:8.1f}")
    for name, mpjpe, pmpjpe in rows:
        print(f"{name:28s} {mpjpe:8.1f} {pmpjpe:8.1f} {mpjpe / best_mpjpe:17.2f} / {pmpjpe / best_pmpjpe:.2f}")


if __name__ == "__main__":
    main()
