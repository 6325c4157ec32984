"""The pieces of the report: projections, clip windows, best marks, the page's offline guarantees."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image as PILImage

from pose3d.h36m.sequences import ACTION_GROUPS
from pose3d.report.animation import Clip, project, render_gif, render_worst, window, worst_frames
from pose3d.report.document import Image, Report, Section, Table, Text, format_cell
from pose3d.report.html import render_html
from pose3d.report.markdown import render_markdown
from pose3d.report.qualitative import choose_view
from pose3d.report.tables import ACTION_ABBREV, mark_best


def clip(n=60, seed=0) -> Clip:
    rng = np.random.default_rng(seed)
    gt = rng.normal(0, 300, (n, 17, 3)).astype(np.float32)
    return Clip("exp", "S9", "Walking 1", "54138969", gt + rng.normal(0, 30, gt.shape).astype(np.float32), gt)


def test_the_action_columns_are_the_fifteen_groups_in_the_seeds_order():
    assert tuple(ACTION_ABBREV) == ACTION_GROUPS


def test_projection_front_view_is_the_image_plane_with_y_up():
    pose = np.array([[[100.0, -200.0, 3000.0]]])
    assert project(pose, 0, 0)[0, 0].tolist() == [100.0, 200.0]
    # turned 90 degrees about the vertical: depth becomes the horizontal axis
    assert project(pose, 90, 0)[0, 0] == pytest.approx([-3000.0, 200.0])


def test_window_is_centred_and_strided():
    assert window(100, 10, 2).tolist() == list(range(40, 60, 2))
    assert window(7, 10, 2).tolist() == [0, 2, 4, 6]


def test_worst_frames_are_the_largest_errors_kept_apart():
    errors = np.zeros(100)
    errors[[10, 11, 12, 70]] = [5, 9, 7, 8]
    assert worst_frames(errors, 2, min_gap=25) == [11, 70]
    assert worst_frames(errors, 3, min_gap=25) == [11, 70, 36]  # then the first frame 25 away from both


def test_a_clip_needs_matching_shapes():
    with pytest.raises(ValueError, match="must be equal"):
        Clip("e", "S9", "Walking", "0", np.zeros((5, 17, 3)), np.zeros((4, 17, 3)))


def test_gif_has_the_requested_frames_and_the_same_bytes_every_time():
    c = clip()
    a, b = render_gif(c, frames=6, stride=3), render_gif(c, frames=6, stride=3)
    assert a.data == b.data
    gif = PILImage.open(io.BytesIO(a.data))
    assert gif.format == "GIF" and gif.n_frames == 6 and gif.info["duration"] == 60
    still = render_worst(c, 2)
    assert PILImage.open(io.BytesIO(still.data)).size[0] > 200
    assert f"{c.errors_mm.mean():.1f} mm" in still.caption


def test_best_marks_ignore_missing_cells_and_keep_ties():
    rows = [["a", 3.0, 0.5], ["b", None, 0.9], ["c", 3.0, float("nan")]]
    assert mark_best(rows, {1: True, 2: False}) == {(0, 1), (2, 1), (1, 2)}
    assert mark_best([["only", 1.0]], {1: True}) == set()  # nothing to compare with


def test_cells_format_numbers_and_gaps():
    assert [format_cell(x, 2) for x in (None, 1234, np.int64(5), 1.005, float("nan"), True)] == \
        ["–", "1,234", "5", "1.00", "–", "yes"]


def test_choose_view_takes_the_action_group_not_a_prefix():
    views = [("S9", "WalkDog 1", 0), ("S9", "Walking 1", 0), ("S9", "Walking", 1)]
    assert choose_view(views, "Walking") == ("S9", "Walking 1", 0)
    assert choose_view(views, "Eating") == ("S9", "WalkDog 1", 0)
    assert choose_view([], "Walking") is None


def test_the_page_fetches_nothing_and_escapes_text():
    png = Image("a.png", b"\x89PNG fake", caption="<b>caption</b> **bold**")
    report = Report("T <1>", [Section("s", "S", [Text("x < y & **z**"), png,
                                                  Table(["c"], [["<td>"]], title="t")])], subtitle="sub")
    page = render_html(report)
    assert "<script" not in page.lower()
    urls = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert urls and all(u.startswith(("data:", "#")) for u in urls)
    assert "x &lt; y &amp; <b>z</b>" in page and "&lt;b&gt;caption&lt;/b&gt; <b>bold</b>" in page
    assert "<td>&lt;td&gt;</td>" in page
    md = render_markdown(report)
    assert "![a.png](a.png)" in md and "| <td> |" in md
