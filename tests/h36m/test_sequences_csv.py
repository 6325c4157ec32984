"""convert's sequences.csv read back: the exclusions every later stage honours, and malformed tables."""
from __future__ import annotations

import csv

import pytest

from pose3d.h36m.sequences_csv import SequencesCsvError, read_exclusions

CAM_RULE = "s11_directions_cam54138969"


def test_a_camera_rule_excludes_one_view_of_a_kept_sequence(tiny_poses_excluding):
    ex = read_exclusions(tiny_poses_excluding(CAM_RULE) / "sequences.csv")
    assert ex.of("S11", "Directions") == (0,)
    assert ex.views() == {("S11", "Directions", 0)}
    assert ex.whole == frozenset()
    assert ex.of("S11", "Directions 1") == () and ex.of_subject("S9") == {}
    assert ex.of_subject("S11") == {"Directions": (0,)}
    assert ex.reason("S11", "Directions").startswith(f"{CAM_RULE}: ")


def test_a_sequence_rule_excludes_all_four_views(tiny_poses):
    ex = read_exclusions(tiny_poses / "sequences.csv")  # default params: s11_directions
    assert ex.whole == {("S11", "Directions")}
    assert ex.of("S11", "Directions") == (0, 1, 2, 3)
    assert "VideoPose3D drops all four cameras" in ex.reason("S11", "Directions")


def test_no_rule_excludes_nothing(tiny_poses_excluding):
    ex = read_exclusions(tiny_poses_excluding() / "sequences.csv")
    assert ex.views() == frozenset() and ex.whole == frozenset()


def _rewrite(src, dst, edit):
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    rows = edit(rows)
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["subject", "key"])
        w.writeheader()
        w.writerows(rows)
    return dst


def _set(seq, **values):
    def edit(rows):
        for r in rows:
            if (r["subject"], r["key"]) == seq:
                r.update(values)
        return rows
    return edit


@pytest.mark.parametrize("edit, problem", [
    (lambda rows: [{k: v for k, v in r.items() if k != "excluded_cameras"} for r in rows],
     "no column excluded_cameras"),
    (_set(("S11", "Directions"), excluded="yes"), "excluded is 'yes', expected True or False"),
    (_set(("S11", "Directions"), excluded_cameras="54138969 12345678"), "unknown camera 12345678"),
    (_set(("S11", "Directions"), excluded="True"), "excluded=True disagrees with excluded_cameras 54138969"),
    (_set(("S9", "Walking 1"), excluded_cameras="54138969 55011271 58860488 60457274"), "excluded=False disagrees"),
    (lambda rows: rows + rows[-1:], "appears twice"),
    (_set(("S1", "Directions 1"), subject=""), "empty subject or key"),
])
def test_malformed_tables_are_named(tiny_poses_excluding, tmp_path, edit, problem):
    bad = _rewrite(tiny_poses_excluding(CAM_RULE) / "sequences.csv", tmp_path / "sequences.csv", edit)
    with pytest.raises(SequencesCsvError, match=problem) as err:
        read_exclusions(bad)
    assert str(err.value).startswith(f"{bad}: ")


def test_an_empty_table_and_a_missing_file(tmp_path):
    header_only = tmp_path / "sequences.csv"
    header_only.write_text("subject,key,excluded,excluded_cameras\n")
    with pytest.raises(SequencesCsvError, match=f"{header_only}: has no sequences"):
        read_exclusions(header_only)
    with pytest.raises(SequencesCsvError, match="absent.csv: sequence table is missing"):
        read_exclusions(tmp_path / "absent.csv")
