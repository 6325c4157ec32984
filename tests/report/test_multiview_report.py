"""The multi-view models in the report: every number beside its pelvis source and its baselines on the same frames.

The files are fabricated to the contract of evaluate_multiview (eval.json, per_action.csv), the
train stage (config.json, provenance) and the priors stage (pelvis_priors.json), with known
numbers, so the tests can check that the report shows exactly those numbers, names the stage of
an experiment not yet evaluated, and leaves out the entries that do not run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.report import ReportSettings, assemble, collect_inputs, write_report
from pose3d.report.html import NB_HYPHEN
from tests.report.conftest import Page, column, report_params

ALG_SOURCE = "own triangulation (no prior)"
VOL_SOURCE = "priors stage: algebraic:alg_a"
ENTRIES = {
    "algebraic_experiments": {
        "alg_a": {"model": "algebraic", "backbone": "kp2d_r18", "epochs": 3},
        "alg_pending": {"model": "algebraic", "backbone": "kp2d_r18"},  # never trained
    },
    "volumetric_experiments": {
        "vol_a": {"model": "volumetric", "backbone": "kp2d_r18", "cube_size": 16},
        "ctx_a": {"model": "contextpose", "backbone": "kp2d_r18", "cube_size": 16, "single_view": True},
        "vol_pending": {"model": "volumetric", "backbone": "kp2d_r18"},  # trained, not evaluated
    },
}
#: Headline numbers: (abs pooled, rel pooled, abs action-wise, rel action-wise, poses scored).
NUMBERS = {"alg_a": (48.5, 41.25, 50.0, 42.5, 1500), "vol_a": (39.75, 33.5, 41.0, 34.75, 1500),
           "ctx_a": (55.25, 43.5, 57.0, 45.0, 6000)}
TRIANGULATION = (61.0, 52.0, 63.0, 54.0)
MEAN_POSE = (160.0, 140.0, 162.0, 141.5)
PARAMETERS = {"alg_a": 11_500_000, "vol_a": 12_250_000, "ctx_a": 12_750_000, "vol_pending": 12_250_000}
SECONDS = {"alg_a": 600.0, "vol_a": 900.0, "ctx_a": 1350.0}
SUBJECTS = {"S9": -2.0, "S11": 2.0}  # offsets from the pooled numbers
PELVIS_PRIORS = {"source": "algebraic:alg_a", "frames": 3000, "from_source_fraction": 0.875, "pelvis_error_mm": 14.25,
                 "valid_pelvis_fraction": 1.0, "from_source_frames": 2625,
                 "on_source_frames": {"frames": 2625, "source_pelvis_error_mm": 12.5,
                                      "triangulation_pelvis_error_mm": 17.75, "triangulation_valid_frames": 2625},
                 "per_subject": {}, "limb_length_mean_mm": 250.0}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def summary(abs_pooled, rel_pooled, abs_aw, rel_aw, frames, source) -> dict:
    return {"pelvis_source": source, "mpjpe_abs_mm": abs_pooled, "mpjpe_rel_mm": rel_pooled,
            "mpjpe_abs_actionwise_mm": abs_aw, "mpjpe_rel_actionwise_mm": rel_aw, "frames": frames}


def per_action(rel_aw: float, abs_aw: float, frames: int, source: str) -> pd.DataFrame:
    """15 action rows whose relative errors step by 1 mm around their mean ``rel_aw``."""
    steps = [i - 7 for i in range(len(ACTION_GROUPS))]
    return pd.DataFrame({"action": list(ACTION_GROUPS), "frames": frames // len(ACTION_GROUPS),
                         "mpjpe_abs_mm": [abs_aw + d for d in steps], "mpjpe_rel_mm": [rel_aw + d for d in steps],
                         "pelvis_source": source})


def write_multiview(ws: Path, name: str, family: str, source: str, views: str, numbers: tuple | None = None) -> None:
    """What train_<family>@name and evaluate_<family>@name write."""
    abs_p, rel_p, abs_aw, rel_aw, frames = numbers or NUMBERS[name]
    ev = {"experiment": name, "family": family, "checkpoint": "last", "epoch": 3,
          **summary(abs_p, rel_p, abs_aw, rel_aw, frames, source), "views": views,
          "per_subject": {s: summary(abs_p + d, rel_p + d, abs_aw + d, rel_aw + d, frames // 2, source)
                          for s, d in SUBJECTS.items()},
          "mean_pose": summary(*MEAN_POSE, frames, source if family != "algebraic" else "the model's own pelvis"),
          "priors_triangulation": summary(*TRIANGULATION, frames, "its own (triangulated) pelvis")}
    if family == "algebraic":
        ev["predicted_frames"] = {"train": 4000, "test": frames}
    else:
        ev["pelvis_error_mm"] = 12.5
    mdir = ws / "data/metrics" / name
    write_json(mdir / "eval.json", ev)
    per_action(rel_aw, abs_aw, frames, source).to_csv(mdir / "per_action.csv", index=False)
    write_trained(ws, name)


def write_trained(ws: Path, name: str) -> None:
    write_json(ws / "data/models" / name / "config.json",
               {"parameters": PARAMETERS.get(name, 1), "trainable_parameters": PARAMETERS.get(name, 1),
                "train_frames": 4000,
                "best_epoch": 2, "config": {}})
    write_json(ws / "data/models" / f"{name}.provenance.json",
               {"seconds": SECONDS.get(name, 60.0), "device": "cpu", "git_revision": "0123456789abcdef"})


def render(ws: Path, params: dict) -> tuple[Page, str, object, object]:
    """The page, the markdown, the inputs and the report of ``ws``."""
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    inputs = collect_inputs(ws, params)
    report = assemble(inputs, ReportSettings.from_params({**params["report"], "worst_frames": 0}))
    write_report(report, ws / "out")
    return Page((ws / "out/index.html").read_text()), (ws / "out/report.md").read_text(), inputs, report


@pytest.fixture
def rendered(tmp_path):
    params = report_params(tmp_path, tmp_path / "raw")
    params.update({k: {n: dict(e) for n, e in v.items()} for k, v in ENTRIES.items()})
    # an entry that does not run, even with files of its own, stays out of the report
    params["extra_multiview_experiments"] = {**params.get("extra_multiview_experiments", {}),
                                             "mv_extra_only": {"model": "volumetric", "backbone": "kp2d_r18"}}
    write_multiview(tmp_path, "alg_a", "algebraic", ALG_SOURCE, "all present views")
    write_multiview(tmp_path, "vol_a", "volumetric", VOL_SOURCE, "all present views")
    write_multiview(tmp_path, "ctx_a", "contextpose", VOL_SOURCE, "one view per sample (every frame and camera)")
    write_trained(tmp_path, "vol_pending")
    write_multiview(tmp_path, "mv_extra_only", "volumetric", VOL_SOURCE, "all present views", (1.0, 1.0, 1.0, 1.0, 10))
    write_json(tmp_path / "data/metrics/pelvis_priors.json", PELVIS_PRIORS)
    return render(tmp_path, params)


def nb(header: str) -> str:
    return header.replace("-", NB_HYPHEN)


def test_the_table_shows_each_number_beside_its_pelvis_source_and_baselines(rendered):
    page, md, inputs, _ = rendered
    assert not inputs.problems
    t = page.table("multiview", "Multi-view experiments")
    names = [r[0][0] for r in t["rows"]]
    assert names == ["alg_a", "alg_a: priors triangulation", "alg_a: mean training pose", "alg_pending",
                     "vol_a", "vol_a: priors triangulation", "vol_a: mean training pose",
                     "ctx_a", "ctx_a: priors triangulation", "ctx_a: mean training pose", "vol_pending"]
    source = column(t, "Pelvis source")
    assert source["alg_a"][0] == ALG_SOURCE and source["vol_a"][0] == VOL_SOURCE and source["ctx_a"][0] == VOL_SOURCE
    assert source["vol_a: priors triangulation"][0] == "its own (triangulated) pelvis"
    assert source["vol_a: mean training pose"][0] == VOL_SOURCE
    assert source["alg_a: mean training pose"][0] == "the model's own pelvis"
    labels = ["MPJPE absolute, pooled (mm)", "MPJPE relative, pooled (mm)", nb("MPJPE absolute, action-wise (mm)"),
              nb("MPJPE relative, action-wise (mm)")]
    for name, numbers in NUMBERS.items():
        assert [column(t, label)[name][0] for label in labels] == [f"{v:.1f}" for v in numbers[:4]]
        assert [column(t, label)[f"{name}: priors triangulation"][0] for label in labels] == \
               [f"{v:.1f}" for v in TRIANGULATION]
        assert [column(t, label)[f"{name}: mean training pose"][0] for label in labels] == \
               [f"{v:.1f}" for v in MEAN_POSE]
        assert column(t, "Poses scored")[name][0] == f"{numbers[4]:,}"
        assert column(t, "Parameters")[name][0] == f"{PARAMETERS[name]:,}"
        assert column(t, "Training (min)")[name][0] == f"{SECONDS[name] / 60:.1f}"
    pelvis = column(t, "Pelvis error (mm)")
    assert pelvis["vol_a"][0] == "12.5" and pelvis["ctx_a"][0] == "12.5" and pelvis["alg_a"][0] == "–"
    assert column(t, "Family")["ctx_a"][0] == "contextpose (from kp2d_r18)"
    assert column(t, "Views")["ctx_a"][0] == "one view per sample (every frame and camera)"
    # the lowest error among the experiments is marked, never a baseline's
    rel = column(t, "MPJPE relative, pooled (mm)")
    assert "best" in rel["vol_a"][1] and not any("best" in rel[n][1] for n in names if n != "vol_a")
    # trained but not evaluated: its parameters and time, no numbers
    assert rel["vol_pending"][0] == "–" and column(t, "Parameters")["vol_pending"][0] == "12,250,000"


def test_the_headline_note_per_action_table_and_per_subject_line(rendered):
    page, md, *_ = rendered
    text = page.text("multiview")
    assert "per_pose_error_relative" in text and "43.4 mm" in text and "55 mm" in text
    assert "single-view" in text and "multi-view pelvis" in text
    t = page.table("multiview", "Multi-view per action: MPJPE relative (mm)")
    assert t["header"] == ["Action", "alg_a", "vol_a", "ctx_a"]
    rows = {r[0][0]: [c[0] for c in r[1:]] for r in t["rows"]}
    assert list(rows)[:15] == list(ACTION_GROUPS)
    assert rows["Directions"] == [f"{NUMBERS[n][3] - 7:.1f}" for n in ("alg_a", "vol_a", "ctx_a")]
    assert rows["Action-wise mean"] == [f"{NUMBERS[n][3]:.1f}" for n in ("alg_a", "vol_a", "ctx_a")]
    assert rows["Pooled"] == [f"{NUMBERS[n][1]:.1f}" for n in ("alg_a", "vol_a", "ctx_a")]
    assert f"alg_a: {ALG_SOURCE}; vol_a: {VOL_SOURCE}; ctx_a: {VOL_SOURCE}" in md
    assert "**vol_a**: S9 31.5 / 37.8, S11 35.5 / 41.8" in md  # relative / absolute, pooled
    assert "Pelvis priors (priors.source) from **algebraic:alg_a**: from it on 87.5 % of the frames" in md


def test_an_experiment_not_yet_evaluated_names_its_stage(rendered):
    page, md, *_ = rendered
    missing = page.sections["multiview"]["missing"]
    assert ("vol_pending: trained; evaluation failed or not run: data/metrics/vol_pending/eval.json is absent "
            "(dvc repro evaluate_volumetric@vol_pending)") in missing
    assert "alg_pending: failed or not run" in missing and "(dvc repro evaluate_algebraic@alg_pending)" in missing
    assert "data/models/alg_pending/config.json too (train_algebraic@alg_pending)" in missing
    assert "alg_a" not in missing and "vol_a" not in missing


def test_the_subtitle_counts_the_multiview_experiments(rendered):
    *_, report = rendered
    assert "and 3 of 5 multi-view experiments evaluated" in report.subtitle


def test_entries_that_do_not_run_are_not_reported(rendered):
    page, md, *_ = rendered
    assert "mv_extra_only" not in md and "alg_seed" not in md and "ctx_seed" not in md
    reproduce = page.text("reproduce")
    assert "algebraic_experiments:" in reproduce and "volumetric_experiments:" in reproduce
    assert "extra_multiview_experiments" not in reproduce
    commands = column(page.table("reproduce", "Commands"), "Reproduce")
    assert commands["vol_a"][0] == "dvc repro evaluate_volumetric@vol_a"
    assert commands["alg_a"][0] == "dvc repro evaluate_algebraic@alg_a"


def test_the_priors_section_names_the_pelvis_source(rendered):
    page, md, *_ = rendered
    text = page.text("priors")
    assert "algebraic:alg_a" in text and "14.2" in text and "12.5" in text and "17.8" in text


@pytest.mark.parametrize("absent", [False, True])
def test_no_multiview_experiments_leaves_subtitle_and_results_whole(tmp_path, absent):
    params = report_params(tmp_path, tmp_path / "raw")
    for section in ENTRIES:
        if absent:
            params.pop(section, None)
        else:
            params[section] = {}
    page, _, inputs, report = render(tmp_path, params)
    assert inputs.multiview_experiments == []
    assert "No multi-view experiments under algebraic_experiments: or volumetric_experiments:" in \
           page.sections["multiview"]["missing"]
    assert "multi-view" not in report.subtitle and report.subtitle.startswith("0 of 3 experiments evaluated")
    assert page.table("results")["rows"] and not page.sections["results"]["missing"]
