"""A small workspace with everything the report reads: real stand-in poses and frames, fixture metrics.

The poses and crops come from the real stages (synthesize with one video, convert,
frames@S9); the metrics, curves and priors are small files with known numbers, so the
tests can check that the report shows exactly those numbers; the checkpoints are
seeded, untrained networks of the real model code (the renders need weights, not skill).
"""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.h36m.skeleton import JOINT_NAMES_17
from pose3d.priors.limbs import LimbStats, write_limb_stats
from pose3d.experiments import build_experiment_model, experiment_config
from tests.helpers import run_stage, write_params

#: Two evaluated experiments and one whose stages never ran (all on the ground-truth 2D).
GT_2D = {"input_2d": "gt", "eval_input_2d": "gt"}
EXPERIMENTS = {
    "fc_small": {"model": "fc", "arc": [1, 1, 1], "channels": 32, "dropout": 0.1, "protocol": "cross_subject", "loss": "l1",
                 "epochs": 5, **GT_2D},
    "vp_small": {"model": "videopose", "arc": [3, 3], "channels": 32, "dropout": 0.1, "protocol": "cross_subject",
                 "loss": "mpjpe", "epochs": 5, **GT_2D},
    "never_ran": {"model": "fc", "arc": [1, 1, 1], "channels": 32, "protocol": "cross_subject", **GT_2D},
}
#: The headline numbers of the evaluated ones: vp_small has the lower errors, fc_small the higher PCK
#: (P-MPJPE is 0.75 x MPJPE in every action row, see per_action_rows).
HEADLINE = {
    "fc_small": {"mpjpe": 61.25, "p_mpjpe": 45.9375, "n_mpjpe": 58.0, "mpjve": 3.21, "pck150": 0.91, "auc": 0.55},
    "vp_small": {"mpjpe": 52.75, "p_mpjpe": 39.5625, "n_mpjpe": 50.0, "mpjve": 2.5, "pck150": 0.89, "auc": 0.51},
}
#: robustness.csv: (corruption, kind, level, fill, MPJPE above the headline per experiment); vp_small
#: is the lower everywhere but under swaps, where fc_small is (P-MPJPE is 0.75 x MPJPE).
ROBUSTNESS = [
    ("gt", "none", 0.0, "", {"fc_small": -1.0, "vp_small": -1.0}),
    ("noisy", "mixed", float("nan"), "", {"fc_small": 14.0, "vp_small": 12.0}),
    ("jitter_5px", "jitter", 5.0, "", {"fc_small": 10.0, "vp_small": 9.0}),
    ("jitter_20px", "jitter", 20.0, "", {"fc_small": 60.0, "vp_small": 50.0}),
    ("outliers_10pct", "outliers", 0.1, "", {"fc_small": 55.0, "vp_small": 45.0}),
    ("swaps_10pct", "swaps", 0.1, "", {"fc_small": 20.0, "vp_small": 40.0}),
    ("missing_10pct", "missing", 0.1, "interpolate", {"fc_small": 0.5, "vp_small": 0.5}),
]
ROBUSTNESS_FRAMES = 150
REPORT = {"compare": None, "clip_action": "Walking", "clip_frames": 12, "clip_stride": 2, "worst_frames": 2,
          "crop_samples": 2}
CURVE_EPOCHS = 5  # the epochs of the experiments above


def per_action_rows(mean: float, seed: int) -> pd.DataFrame:
    """15 action rows whose mean is exactly ``mean``, plus the Average and Pooled rows evaluate writes."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 8, len(ACTION_GROUPS))
    offsets -= offsets.mean()
    mpjpe = np.round(mean + offsets, 4)
    mpjpe[-1] = round(mean * len(mpjpe) - mpjpe[:-1].sum(), 4)
    rows = [{"action": a, "mpjpe": m, "p_mpjpe": round(m * 0.75, 4), "n_mpjpe": round(m * 0.95, 4), "mpjve": 2.0,
             "pck150": 0.9, "auc": 0.5, "frames": 100, "test_set": "test"} for a, m in zip(ACTION_GROUPS, mpjpe)]
    df = pd.DataFrame(rows)
    avg = {c: df[c].mean() for c in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc")}
    df.loc[len(df)] = {"action": "Average", **avg, "frames": 1500, "test_set": "test"}
    df.loc[len(df)] = {"action": "Pooled", **avg, "frames": 1500, "test_set": "test"}
    return df


def robustness_rows(name: str) -> pd.DataFrame:
    """The robustness.csv evaluate would write for ``name``: :data:`ROBUSTNESS` over its headline MPJPE."""
    base = HEADLINE[name]["mpjpe"]
    rows = [{"experiment": name, "corruption": c, "kind": k, "level": lv, "fill": f, "mpjpe": base + d[name],
             "p_mpjpe": 0.75 * (base + d[name]), "mpjpe_pooled": base + d[name] - 1,
             "p_mpjpe_pooled": 0.75 * (base + d[name] - 1), "frames": ROBUSTNESS_FRAMES}
            for c, k, lv, f, d in ROBUSTNESS]
    return pd.DataFrame(rows)


def write_experiment(ws: Path, params: dict, name: str, seed: int) -> None:
    """eval.json, per_action.csv, per_joint.csv, robustness.csv, DVCLive curves, config.json and best.pt of
    one experiment."""
    metrics, models = ws / "data/metrics" / name, ws / "data/models" / name
    (metrics / "train/plots/metrics/train").mkdir(parents=True)
    (metrics / "train/plots/metrics/val").mkdir(parents=True)
    models.mkdir(parents=True)
    head = HEADLINE[name]
    pa = per_action_rows(head["mpjpe"], seed)
    pa.to_csv(metrics / "per_action.csv", index=False, float_format="%.4f")
    summary = {**head, **{f"{k}_pooled": v for k, v in head.items()}, "frames": 1500, "sequences": 60, "actions": 15}
    (metrics / "eval.json").write_text(json.dumps({
        **summary, "headline_set": "test", "test_sets": {"test": summary}, "tta": True, "checkpoint": "last",
        "checkpoint_epoch": CURVE_EPOCHS, "epochs": CURVE_EPOCHS, "input_2d": "gt", "eval_input_2d": "gt",
        "scores": False}))
    robustness_rows(name).to_csv(metrics / "robustness.csv", index=False, float_format="%.4f")
    pd.DataFrame({"joint": JOINT_NAMES_17, "mpjpe": np.linspace(10, 90, 17) + seed, "mpjpe_pooled": 0.0,
                  "test_set": "test"}).to_csv(metrics / "per_joint.csv", index=False)
    steps = np.arange(CURVE_EPOCHS)
    pd.DataFrame({"step": steps, "loss": 0.1 / (steps + 1 + seed)}).to_csv(
        metrics / "train/plots/metrics/train/loss.tsv", sep="\t", index=False)
    pd.DataFrame({"step": steps, "mpjpe_mm": 100.0 - 5 * steps - seed}).to_csv(
        metrics / "train/plots/metrics/val/mpjpe_mm.tsv", sep="\t", index=False)
    cfg = experiment_config(params, name)
    torch.manual_seed(seed)
    model = build_experiment_model(cfg, training=False)
    torch.save({"model": model.state_dict(), "epoch": CURVE_EPOCHS - 1}, models / "best.pt")
    torch.save({"model": model.state_dict(), "history": {"epoch": CURVE_EPOCHS}, "config": {"epochs": CURVE_EPOCHS}},
               models / "latest.pt")
    (models / "config.json").write_text(json.dumps({
        "experiment": name, "config": cfg, "receptive_field": model.receptive_field, "best_epoch": CURVE_EPOCHS - 1}))
    (models.parent / f"{name}.provenance.json").write_text(json.dumps(
        {"device": "cpu", "seconds": 125.0 + seed, "git_revision": "0123456789abcdef"}))


def write_priors(ws: Path) -> LimbStats:
    per_action = {a: {"mpjpe_mm": 18.0 + i / 10, "pelvis_error_mm": 17.0, "ransac_inlier_fraction": 0.98,
                      "valid_joint_fraction": 1.0, "frames": 100} for i, a in enumerate(ACTION_GROUPS)}
    (ws / "data/metrics").mkdir(parents=True, exist_ok=True)
    (ws / "data/metrics/priors.json").write_text(json.dumps({
        "mpjpe_mm": 18.7, "pelvis_error_mm": 17.0, "valid_joint_fraction": 1.0, "ransac_inlier_fraction": 0.98,
        "frames": 1500, "mpjpe_action_mean_mm": 18.7, "per_action": per_action}))
    stats = LimbStats(np.linspace(100, 450, 16), np.linspace(1, 16, 16), 1234)
    write_limb_stats(ws / "data/processed/priors/limb_stats.h5", stats, subjects=["S1"])
    (ws / "data/processed/priors.provenance.json").write_text(json.dumps(
        {"source_2d": "noisy", "ransac_threshold_px": 15.0, "pelvis_source": "algebraic:alg"}))
    return stats


def report_params(ws: Path, raw: Path, **extra) -> dict:
    """The project's params.yaml with the fixture experiments and a fast report section."""
    # three subjects keep the stand-in small; S11 brings the excluded 'Directions' along
    params = write_params(ws, dataset={"raw_dir": str(raw), "subjects": ["S1", "S9", "S11"], "train_subjects": ["S1"],
                                       "test_subjects": ["S9", "S11"]},
                          frames={"subjects": ["S9"], "workers": 1},
                          synthesize={"profile": "tiny", "seed": 0, "workers": 1,
                                      "videos": {"enabled": True, "subjects": ["S9"], "actions": ["Walking"],
                                                 "cameras": [0], "scale": 0.25, "crf": 23}})
    params["experiments"] = dict(EXPERIMENTS)
    params["phases"] = {}  # the phase chain is covered by tests/test_pipeline_dvc.py
    params["image_experiments"], params["detect"] = {}, {"experiments": []}  # tests/report/test_images.py
    params["report"] = {**REPORT, **extra}
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


@pytest.fixture(scope="session")
def report_ws(tmp_path_factory) -> Path:
    """The full workspace after ``python -m stages.report``: every section has its inputs (one
    experiment excepted, which never ran)."""
    ws = tmp_path_factory.mktemp("report_ws")
    raw = ws / "data/raw/synthetic"
    params = report_params(ws, raw)
    for stage, args in (("synthesize", ("--out", str(raw))), ("convert", ()), ("frames", ("--subject", "S9")),
                        ("inputs_2d", ("--source", "gt"))):  # the 2D the experiments are scored on
        proc = run_stage(stage, ws, *args)
        assert proc.returncode == 0, f"{stage}: {proc.stderr[-2000:]}"
    for seed, name in enumerate(HEADLINE):
        write_experiment(ws, params, name, seed)
    write_priors(ws)
    proc = run_stage("report", ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (ws / "report.log").write_text(proc.stderr)
    return ws


class Page(HTMLParser):
    """Sections of the page with their tables (caption, header, rows of (text, classes)), images, text
    and the 'missing' line of a section whose inputs are absent."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._sec = self._table = self._row = self._cell = None
        self._caption = self._missing = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._sec = self.sections.setdefault(a["id"], {"tables": [], "images": [], "text": [], "missing": ""})
        elif tag == "p" and a.get("class") == "missing":
            self._missing = True
        elif tag == "table":
            self._table = {"caption": "", "header": [], "rows": []}
            self._sec["tables"].append(self._table)
        elif tag == "caption":
            self._caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ["", set((a.get("class") or "").split()), tag]
        elif tag == "img" and self._sec is not None:
            self._sec["images"].append(a)

    def handle_endtag(self, tag):
        if tag == "caption":
            self._caption = False
        elif tag == "p":
            self._missing = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if all(c[2] == "th" for c in self._row):
                self._table["header"] = [c[0] for c in self._row]
            else:
                self._table["rows"].append([(c[0], c[1]) for c in self._row])
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "section":
            self._sec = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data
        elif self._caption:
            self._table["caption"] += data
        elif self._sec is not None:
            self._sec["text"].append(data)
            if self._missing:
                self._sec["missing"] += data

    def table(self, section: str, caption: str | None = None) -> dict:
        tables = self.sections[section]["tables"]
        return next(t for t in tables if caption is None or t["caption"] == caption)

    def text(self, section: str) -> str:
        return " ".join(self.sections[section]["text"])


def column(table: dict, name: str) -> dict[str, tuple[str, set]]:
    i = table["header"].index(name)
    return {row[0][0]: row[i] for row in table["rows"]}
