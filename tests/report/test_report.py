"""The report stage on a workspace with every input: each section is there and shows the fixture's numbers."""
from __future__ import annotations

import base64
import io
import json

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pose3d.report.tables import ACTION_ABBREV
from tests.report.conftest import CURVE_EPOCHS, EXPERIMENTS, HEADLINE, REPORT, Page, column

SECTIONS = ["data", "results", "per-action", "robustness", "detector", "detected-2d", "multiview", "curves",
            "qualitative", "priors", "frames", "reproduce", "comparison"]


@pytest.fixture(scope="module")
def page(report_ws) -> Page:
    return Page((report_ws / "data/reports/index.html").read_text())


def test_every_section_is_there_in_order(page, report_ws):
    assert list(page.sections) == SECTIONS
    out = report_ws / "data/reports"
    assert {p.name for p in out.iterdir()} >= {"index.html", "report.md", "curves.png", "per_joint.png",
                                              "clip_fc_small.gif", "worst_vp_small.png", "crops.png",
                                              "priors_per_action.png"}
    prov = json.loads((report_ws / "data/reports.provenance.json").read_text())
    assert prov["files"]["index.html"] == (out / "index.html").stat().st_size


def test_results_rows_numbers_and_best_marks(page):
    t = page.table("results")
    assert [r[0][0] for r in t["rows"]] == list(EXPERIMENTS)
    mpjpe, pck = column(t, "MPJPE (mm)"), column(t, "PCK@150 (%)")
    for name, head in HEADLINE.items():
        assert mpjpe[name][0] == f"{head['mpjpe']:.1f}"
        assert pck[name][0] == f"{100 * head['pck150']:.1f}"
    # lowest error and highest PCK are marked, each in its own column
    assert "best" in mpjpe["vp_small"][1] and "best" not in mpjpe["fc_small"][1]
    assert "best" in pck["fc_small"][1] and "best" not in pck["vp_small"][1]
    # the experiment that never ran is a row that says so, not a crash
    assert column(t, "Status")["never_ran"][0] == "failed or not run"
    assert mpjpe["never_ran"][0] == "–"
    assert column(t, "Frames")["vp_small"][0] == "9"  # receptive field of arc [3, 3]
    assert column(t, "Frames")["never_ran"][0] == "1"  # known from the config, before any training
    assert column(t, "Epochs")["fc_small"][0] == str(CURVE_EPOCHS)
    assert column(t, "Training time")["fc_small"][0] == "2:05"
    assert int(column(t, "Parameters")["fc_small"][0].replace(",", "")) > 1000
    assert "never_ran: failed or not run" in page.text("results")


def test_per_action_tables_have_the_seeds_columns_and_avg_is_the_mean(page):
    for caption, metric in (("Protocol #1 (MPJPE, mm)", "mpjpe"), ("Protocol #2 (P-MPJPE, mm)", "p_mpjpe")):
        t = page.table("per-action", caption)
        assert t["header"] == ["Experiment", *ACTION_ABBREV.values(), "Avg"]
        assert [r[0][0] for r in t["rows"]] == list(HEADLINE)
        for row in t["rows"]:
            cells = [float(c[0]) for c in row[1:-1]]
            assert len(cells) == 15
            assert abs(np.mean(cells) - float(row[-1][0])) < 0.06
        avg = column(t, "Avg")
        assert avg["vp_small"][0] == f"{HEADLINE['vp_small'][metric]:.1f}"
        assert "best" in avg["vp_small"][1]


def test_data_section_names_source_exclusions_and_reprojection(page, report_ws):
    text = page.text("data")
    assert "profile" in text and "tiny" in text and "seed" in text
    seq = pd.read_csv(report_ws / "data/processed/poses/sequences.csv")
    excluded = page.table("data", "Excluded")
    assert [r[0][0] for r in excluded["rows"]] == ["S11"]
    assert "VideoPose3D drops all four cameras" in excluded["rows"][0][-1][0]
    subjects = page.table("data", "Subjects")
    frames = column(subjects, "Pose frames")
    kept = seq[~seq["excluded"]]
    assert int(frames["S9"][0].replace(",", "")) == kept[kept["subject"] == "S9"]["pose_frames"].sum()
    assert f"{seq['max_reprojection_px'].max():.2g} px" in text


def test_curves_and_qualitative_images_are_embedded_and_decode(page):
    curves = page.sections["curves"]["images"]
    assert len(curves) == 2 and all(i["src"].startswith("data:image/png;base64,") for i in curves)
    gifs = [i for i in page.sections["qualitative"]["images"] if i["src"].startswith("data:image/gif")]
    assert len(gifs) == 2
    gif = Image.open(io.BytesIO(base64.b64decode(gifs[0]["src"].split(",", 1)[1])))
    assert gif.n_frames == REPORT["clip_frames"]
    assert "never_ran: no render" in page.text("qualitative")


def test_priors_and_frames_sections(page, report_ws):
    limbs = page.table("priors", "Limb-length statistics (limb_stats.h5)")
    with h5py.File(report_ws / "data/processed/priors/limb_stats.h5") as f:
        mean = f["mean"][:]
    assert len(limbs["rows"]) == 16
    assert [float(r[1][0]) for r in limbs["rows"]] == pytest.approx(mean, abs=0.05)
    assert "18.7 mm" in page.text("priors")
    assert "noisy 2D, RANSAC at 15.0 px" in page.text("priors") and "algebraic:alg" in page.text("priors")
    frames = page.table("frames", "Extracted frames")
    videos = pd.read_csv(report_ws / "data/processed/frames/S9/videos.csv")
    assert column(frames, "Videos used")["S9"][0] == str((videos["status"] == "ok").sum())
    skipped = page.table("frames", "Videos skipped")
    assert "not_provided" in [r[2][0] for r in skipped["rows"]]
    assert page.sections["frames"]["images"], "no sample crops"


def test_reproduce_lists_commands_and_params(page):
    commands = page.table("reproduce", "Commands")
    assert column(commands, "Reproduce")["vp_small"][0] == "dvc repro evaluate@vp_small"
    text = page.text("reproduce")
    assert "vp_small:" in text and "clip_frames: 12" in text and "torch" in text


def test_markdown_has_the_same_tables_and_links_the_figures(report_ws):
    md = (report_ws / "data/reports/report.md").read_text()
    assert "| Experiment | Dir. | Disc. |" in md
    assert f"**{HEADLINE['vp_small']['mpjpe']:.1f}**" in md
    for name in ("curves.png", "clip_vp_small.gif", "crops.png"):
        assert f"]({name})" in md and (report_ws / "data/reports" / name).is_file()
