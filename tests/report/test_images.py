"""The image experiments in the report: the 2D detector, Integral's rows, lifting on detected 2D.

The files are fabricated to the image stages' contract (eval.json, per_action.csv, per_joint.csv,
samples.npz, detect.json) with known numbers, so the tests can check that the report shows
exactly those numbers, and that the detected-2D comparison is over the detected run's actions only.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image as PILImage

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.h36m.skeleton import JOINT_NAMES_17
from pose3d.report import ReportSettings, assemble, collect_inputs, write_report
from pose3d.report.detected import is_detections, restricted_mean
from pose3d.report.html import NB_HYPHEN
from pose3d.report.markdown import render_markdown
from stages import report as report_stage
from tests.report.conftest import HEADLINE, Page, column, report_params, write_experiment

DETECTIONS_FILE = "data/processed/detections/data_2d_h36m_kp2d_r18.npz"
#: The actions the detections cover (only these sequences have video), with fc_det's MPJPE on each.
DET_ACTIONS = {"Eating": 70.0, "Sitting": 80.0, "Walking": 93.0}
KP2D = {"family": "keypoints2d", "pck_0.05": 0.61, "pck_0.1": 0.88, "mean_px": 7.3, "frames": 1234, "joints": 17,
        "decode": "soft_argmax", "flip_test": True, "checkpoint": "last", "checkpoint_epoch": 6, "epochs": 6,
        "test_subjects": ["S9", "S11"], "input_size": 64,
        "pck_reference": "longer side of the ground-truth person box", "units": "original-image pixels",
        "mean_pose": {"frames": 1234, "mean_px": 30.5, "pck_0.05": 0.12, "pck_0.1": 0.35}}
DETECT = {"frames": 12345, "videos": 112, "sequences": 28, "mean_px": 9.25, "pck_0.05": 0.55, "pck_0.1": 0.81,
          "by_split": {"train": {"frames": 10000, "videos": 90, "mean_px": 6.5, "pck_0.05": 0.7, "pck_0.1": 0.93},
                       "test": {"frames": 2345, "videos": 22, "mean_px": 12.75, "pck_0.05": 0.42, "pck_0.1": 0.7}}}
INTEGRAL = {"family": "integral", "mpjpe": 180.4, "p_mpjpe": 140.2, "mpjpe_pooled": 178.6, "p_mpjpe_pooled": 139.1,
            "pa_mpjpe_noscale": 150.5, "pa_mpjpe_noscale_pooled": 149.3, "mean_pose_mpjpe": 260.7, "frames": 900,
            "actions": 15, "checkpoint": "last", "checkpoint_epoch": 4, "epochs": 4, "headline_set": "test",
            "joints": 17, "root": "ground-truth box and root depth"}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_keypoints2d(ws: Path, name: str, k: int = 3, side: int = 32) -> None:
    mdir = ws / "data/metrics" / name
    write_json(mdir / "eval.json", KP2D)
    write_json(mdir / "detect.json", DETECT)
    pd.DataFrame({"joint": JOINT_NAMES_17, "pck_0.05": np.linspace(0.3, 0.9, 17), "pck_0.1": np.linspace(0.6, 1, 17),
                  "mean_px": np.linspace(3, 15, 17)}).to_csv(mdir / "per_joint.csv", index=False)
    pd.DataFrame({"action": list(ACTION_GROUPS), "pck_0.05": 0.6, "pck_0.1": 0.875, "mean_px": 7.25,
                  "frames": 80}).to_csv(mdir / "per_action.csv", index=False)
    rng = np.random.default_rng(0)
    true = rng.uniform(4, side - 4, (k, 17, 2)).astype(np.float32)
    np.savez(mdir / "samples.npz", crops=rng.integers(0, 255, (k, side, side, 3), dtype=np.uint8),
             pred_px=(true + rng.normal(0, 1.5, true.shape)).astype(np.float32), true_px=true,
             subject=np.array(["S9"] * k), action=np.array(["Walking 1"] * k), camera=np.array(["54138969"] * k),
             frame=np.arange(k) * 64)


def write_integral(ws: Path, name: str) -> None:
    mdir = ws / "data/metrics" / name
    write_json(mdir / "eval.json", INTEGRAL)
    mpjpe = np.full(len(ACTION_GROUPS), INTEGRAL["mpjpe"])
    pd.DataFrame({"action": list(ACTION_GROUPS), "mpjpe": mpjpe, "p_mpjpe": INTEGRAL["p_mpjpe"],
                  "pa_mpjpe_noscale": INTEGRAL["pa_mpjpe_noscale"], "frames": 60, "test_set": "test"}).to_csv(
        mdir / "per_action.csv", index=False)
    pd.DataFrame({"joint": JOINT_NAMES_17, "mpjpe": np.linspace(100, 260, 17), "mpjpe_pooled": 0.0,
                  "test_set": "test"}).to_csv(mdir / "per_joint.csv", index=False)
    write_json(ws / "data/models" / name / "config.json", {"experiment": name, "config": {"model": "integral"}})


def write_detected_lifting(ws: Path, name: str) -> None:
    """A lifting experiment scored on the detections: per_action.csv has only the actions with video."""
    mdir = ws / "data/metrics" / name
    rows = [{"action": a, "mpjpe": m, "p_mpjpe": 0.75 * m, "frames": 40, "test_set": "test"}
            for a, m in DET_ACTIONS.items()]
    mean = float(np.mean(list(DET_ACTIONS.values())))
    rows += [{"action": a, "mpjpe": mean, "p_mpjpe": 0.75 * mean, "frames": 120, "test_set": "test"}
             for a in ("Average", "Pooled")]
    mdir.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(mdir / "per_action.csv", index=False)
    summary = {"mpjpe": mean, "p_mpjpe": 0.75 * mean, "frames": 120, "actions": len(DET_ACTIONS)}
    write_json(mdir / "eval.json", {**summary, "headline_set": "test", "test_sets": {"test": summary},
                                    "checkpoint": "last", "checkpoint_epoch": 5, "epochs": 5,
                                    "input_2d": "kp2d_r18", "eval_input_2d": "kp2d_r18", "scores": False})


def image_params(ws: Path) -> dict:
    """fc_small and vp_small on gt (write_experiment), fc_det on the detections; one keypoints2d, one integral
    and one integral that never ran."""
    params = report_params(ws, ws / "raw")
    params["inputs_2d"]["kp2d_r18"] = {"file": DETECTIONS_FILE, "partial": True}
    params["experiments"] = {k: v for k, v in params["experiments"].items() if k != "never_ran"}
    params["experiments"]["fc_det"] = {**params["experiments"]["fc_small"], "input_2d": "kp2d_r18",
                                       "eval_input_2d": "kp2d_r18"}
    params["image_experiments"] = {
        "kp2d_r18": {"model": "keypoints2d", "resnet": 18, "input_size": 64, "epochs": 6, "lr": 0.001},
        "int_r18": {"model": "integral", "resnet": 18, "input_size": 64, "depth_bins": 16, "epochs": 4},
        "int_never": {"model": "integral", "resnet": 50, "input_size": 256, "epochs": 25},
    }
    params["detect"] = {"experiments": ["kp2d_r18"]}
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for seed, name in enumerate(HEADLINE):
        write_experiment(ws, params, name, seed)
    write_detected_lifting(ws, "fc_det")
    write_keypoints2d(ws, "kp2d_r18")
    write_integral(ws, "int_r18")
    return params


@pytest.fixture
def rendered(tmp_path):
    params = image_params(tmp_path)
    inputs = collect_inputs(tmp_path, params)
    report = assemble(inputs, ReportSettings.from_params({**params["report"], "worst_frames": 0}))
    sizes = write_report(report, tmp_path / "out")
    return tmp_path, inputs, report, sizes


def nb(header: str) -> str:
    """A column header as the page writes it (hyphens non-breaking)."""
    return header.replace("-", NB_HYPHEN)


def md_row(md: str, title: str, first_cell: str) -> list[str]:
    """The cells of the markdown table row starting with ``first_cell``, in the table titled ``title``."""
    block = md.split(f"**{title}**", 1)[1].split("\n\n", 2)[1]
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in {title!r}")


def test_the_detector_section_shows_pck_per_action_per_joint_and_detections(rendered):
    ws, inputs, report, _ = rendered
    assert not inputs.problems
    md = (ws / "out/report.md").read_text()
    assert "## 2D detector" in md
    summary = md_row(md, "2D detectors on the test crops", "kp2d_r18")
    assert summary[1:] == ["keypoints2d (ResNet-18)", "64", "soft_argmax", "yes", "last (6/6)", "61.0", "88.0",
                           "7.30", "1,234"]
    assert "PCK@0.05 **61.0 %**, PCK@0.1 **88.0 %**, mean error **7.30 px** (original-image pixels)" in md
    assert md_row(md, "kp2d_r18: per action", "Walking")[1:] == ["60.0", "87.5", "7.25", "80"]
    assert md_row(md, "kp2d_r18: per action", "All")[1:] == ["61.0", "88.0", "7.30", "1,234"]
    assert md_row(md, "kp2d_r18: per action", "Mean pose (baseline)")[1:] == ["12.0", "35.0", "30.50", "1,234"]
    per_joint = md_row(md, "kp2d_r18: per joint", "Mean error (px)")
    assert len(per_joint) == 18 and per_joint[1] == "3.0" and per_joint[-1] == "15.0"
    detect = "kp2d_r18: detections on every frame (detect.json)"
    assert md_row(md, detect, "all")[1:] == ["12,345", "112", "55.0", "81.0", "9.25"]
    assert md_row(md, detect, "test")[1:] == ["2,345", "22", "42.0", "70.0", "12.75"]
    assert md_row(md, detect, "train")[1:] == ["10,000", "90", "70.0", "93.0", "6.50"]
    assert "(28 sequences with all four videos detected)" in md


def test_the_sample_crops_figure_is_written_and_embedded(rendered):
    ws, _, report, sizes = rendered
    image = next(i for i in report.section("detector").blocks if getattr(i, "name", "") == "detector_kp2d_r18.png")
    assert sizes["detector_kp2d_r18.png"] == len(image.data)
    png = PILImage.open(io.BytesIO(image.data))
    assert png.format == "PNG" and png.size[0] >= 300
    assert "](detector_kp2d_r18.png)" in (ws / "out/report.md").read_text()
    page = Page((ws / "out/index.html").read_text())
    assert any(i["src"].startswith("data:image/png;base64,") for i in page.sections["detector"]["images"])


def test_integral_rows_join_the_results_with_their_protocol_note(rendered):
    ws, *_ = rendered
    page = Page((ws / "out/index.html").read_text())
    t = page.table("results")
    assert [r[0][0] for r in t["rows"]] == ["fc_small", "vp_small", "fc_det", "int_r18", "int_never"]
    assert column(t, "2D")["int_r18"][0] == "image crops (64 px)"
    assert column(t, "Model")["int_r18"][0] == "integral (ResNet-18)"
    assert column(t, "Norm")["int_r18"][0] == "–"
    assert column(t, "MPJPE (mm)")["int_r18"][0] == "180.4"
    assert column(t, nb("PA-MPJPE w/o scale (mm)"))["int_r18"][0] == "150.5"
    assert column(t, nb("PA-MPJPE w/o scale (mm)"))["fc_small"][0] == "–"
    assert column(t, nb("Mean-pose MPJPE (mm)"))["int_r18"][0] == "260.7"
    assert column(t, "Scored")["int_r18"][0] == "last (4/4)"
    assert column(t, "Status")["int_never"][0] == "failed or not run"
    md = (ws / "out/report.md").read_text()
    assert 'Integral\'s own code calls PA-MPJPE without scale (Procrustes alignment by rotation and translation ' \
           'only) "Protocol #1" and MPJPE "Protocol #2"' in md
    assert "its headline is frame-pooled" in md
    pooled = md_row(md, "Integral regression in its own protocols", "int_r18")
    assert pooled[1:] == ["149.3", "178.6", "150.5", "180.4", "260.7", "ground-truth box and root depth", "900"]
    assert "int_never: failed or not run: data/metrics/int_never/eval.json is absent (dvc repro evaluate_image@" \
           "int_never)." in md
    # the per-action tables list it after the lifting experiments, with its own PA-MPJPE w/o scale table
    assert md_row(md, "Protocol #1 (MPJPE, mm)", "int_r18")[-1] == "180.4"
    assert md_row(md, "PA-MPJPE without scale (mm)", "int_r18")[-1] == "150.5"


def test_lifting_on_detected_2d_is_compared_over_its_own_actions(rendered):
    ws, *_ = rendered
    md = (ws / "out/report.md").read_text()
    assert "## Lifting on detected 2D" in md
    own = pd.read_csv(ws / "data/metrics/fc_small/per_action.csv").set_index("action")
    actions = sorted(DET_ACTIONS, key=ACTION_GROUPS.index)
    title = "fc_det: MPJPE (mm) on its action groups"
    header = md.split(f"**{title}**", 1)[1].split("\n\n", 2)[1].splitlines()[0]
    assert header == "| Experiment | 2D | Eat | Sit | Walk | Mean | Frames |"
    gt_mean = sum(own.loc[a, "mpjpe"] for a in actions) / 3  # by hand: fc_small over Eating, Sitting, Walking
    det = md_row(md, title, "fc_det")
    gt = md_row(md, title, "fc_small")
    assert det[1] == "kp2d_r18" and gt[1] == "gt"
    assert det[-2].strip("*") == f"{(70.0 + 80.0 + 93.0) / 3:.1f}" and det[-1] == "120"
    assert gt[-2].strip("*") == f"{gt_mean:.1f}" and gt[-1] == "300"
    assert [c.strip("*") for c in gt[2:5]] == [f"{own.loc[a, 'mpjpe']:.1f}" for a in actions]
    with pytest.raises(AssertionError):  # another model is no comparison
        md_row(md, title, "vp_small")
    p_title = "fc_det: P-MPJPE (mm) on its action groups"
    assert md_row(md, p_title, "fc_small")[-2].strip("*") == \
        f"{sum(own.loc[a, 'p_mpjpe'] for a in actions) / 3:.1f}"
    assert "detections exist only for the sequences with video" in md
    # the tables that list fc_det beside the others say that its numbers cover fewer sequences
    assert md.count("fc_det is scored on kp2d_r18 (data/processed/detections/data_2d_h36m_kp2d_r18.npz)") == 2


def test_reproduce_lists_image_experiments_and_the_detect_section(rendered):
    ws, *_ = rendered
    md = (ws / "out/report.md").read_text()
    assert "| int_r18 | dvc repro evaluate_image@int_r18 |" in md
    assert "| kp2d_r18 (detections) | dvc repro detect@kp2d_r18 |" in md
    assert md.splitlines()[2].startswith("3 of 3 experiments and 2 of 3 image experiments evaluated; lowest MPJPE")
    params_block = md.split("## Reproduce", 1)[1]
    assert "image_experiments:" in params_block and "detect:" in params_block and "kp2d_r18:" in params_block


@pytest.mark.parametrize("section", ["absent", None, {}])
def test_no_image_experiments_gives_the_report_as_before(tmp_path, section):
    params = report_params(tmp_path, tmp_path / "raw")
    del params["image_experiments"], params["detect"]
    if section != "absent":
        params["image_experiments"] = section
    write_experiment(tmp_path, params, "fc_small", 0)
    inputs = collect_inputs(tmp_path, params)
    assert inputs.image_experiments == []
    report = assemble(inputs, ReportSettings.from_params(params["report"]))
    assert "keypoints2d" in report.section("detector").missing
    assert "detected 2D" in report.section("detected-2d").missing
    md = render_markdown(report)
    assert "PA-MPJPE w/o scale" not in md and "Integral" not in md


def test_an_image_experiment_without_eval_json_is_a_note(tmp_path):
    params = report_params(tmp_path, tmp_path / "raw")
    params["image_experiments"] = {"kp2d_r18": {"model": "keypoints2d", "input_size": 64}}
    inputs = collect_inputs(tmp_path, params)
    assert not inputs.problems
    sec = assemble(inputs, ReportSettings.from_params(params["report"])).section("detector")
    text = render_markdown(type("R", (), {"title": "", "subtitle": "", "sections": [sec]})())
    assert "kp2d_r18: failed or not run: data/metrics/kp2d_r18/eval.json is absent" in text
    assert "not in detect.experiments" in text
    assert md_row(text, "2D detectors on the test crops", "kp2d_r18")[-1] == "failed or not run"


def test_broken_image_files_are_problems_not_crashes(tmp_path):
    params = image_params(tmp_path)
    (tmp_path / "data/metrics/kp2d_r18/eval.json").write_text('{"family": "keypoints2d"}')
    np.savez(tmp_path / "data/metrics/kp2d_r18/samples.npz", crops=np.zeros((2, 8, 8, 3), np.uint8),
             pred_px=np.zeros((2, 17, 2)), true_px=np.zeros((3, 17, 2)), subject=np.array(["S9", "S9"]),
             action=np.array(["a", "b"]), camera=np.array(["c", "c"]), frame=np.arange(2))
    inputs = collect_inputs(tmp_path, params)
    assert inputs.problems == [
        "data/metrics/kp2d_r18/eval.json: no pck_0.05, pck_0.1, mean_px number",
        "data/metrics/kp2d_r18/samples.npz: unexpected shapes (pred_px (2, 17, 2) / true_px (3, 17, 2)) for 2 crops"]
    report = assemble(inputs, ReportSettings.from_params({**params["report"], "worst_frames": 0}))
    assert not [b for b in report.section("detector").blocks if getattr(b, "name", "").endswith(".png")]


def test_the_stage_builds_no_network_for_image_experiments(tmp_path, monkeypatch):
    image_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    report_stage.main([])
    page = Page((tmp_path / "data/reports/index.html").read_text())
    names = list(page.sections)
    assert names.index("detector") == names.index("robustness") + 1
    assert names.index("detected-2d") == names.index("detector") + 1
    qualitative = page.text("qualitative")
    assert "int_r18" not in qualitative and "kp2d_r18" not in qualitative
    assert column(page.table("results"), "Parameters")["int_r18"][0] == "–"


def test_detection_paths_and_restricted_means():
    assert is_detections(DETECTIONS_FILE) and is_detections("./" + DETECTIONS_FILE)
    assert not is_detections("data/processed/poses/data_2d_h36m_gt.npz")
    assert not is_detections("data/processed/detections") and not is_detections(None)
    values = {"Eating": (10.0, 5), "Walking": (20.0, 5)}
    assert restricted_mean(values, ["Eating", "Walking"]) == 15.0
    assert restricted_mean(values, ["Eating", "Sitting"]) is None  # never a mean over fewer groups
