"""Pooling per-frame errors per action group: action-wise mean vs frame-pooled mean."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pose3d.h36m.skeleton import H36M17
from pose3d.metrics.aggregate import ErrorAccumulator


def _const(value: float, frames: int) -> np.ndarray:
    return np.full(frames, value)


def test_action_wise_mean_differs_from_pooled_mean():
    acc = ErrorAccumulator()
    acc.add("S9", "Walking", "54138969", {"mpjpe": _const(10.0, 2)})
    acc.add("S11", "Walking 1", "55011271", {"mpjpe": _const(20.0, 2)})
    acc.add("S9", "Eating", "54138969", {"mpjpe": _const(40.0, 6)})
    table = acc.per_action()
    assert list(table.index) == ["Eating", "Walking"]
    assert table.loc["Walking", "mpjpe"] == pytest.approx(15.0)  # (2*10 + 2*20) / 4
    assert table.loc["Walking", "frames"] == 4
    assert table.loc["Eating", "mpjpe"] == pytest.approx(40.0)
    summary = acc.summary()
    assert summary["mpjpe"] == pytest.approx((15.0 + 40.0) / 2)  # 27.5, the headline
    assert summary["mpjpe_pooled"] == pytest.approx((20 + 40 + 240) / 10)  # 30.0
    assert summary["frames"] == 10 and summary["sequences"] == 3 and summary["actions"] == 2


def test_frame_weighting_within_a_group():
    acc = ErrorAccumulator()
    acc.add("S9", "Greeting", 0, {"mpjpe": _const(10.0, 1)})
    acc.add("S9", "Greeting", 1, {"mpjpe": _const(40.0, 3)})  # same key, another camera
    assert acc.per_action().loc["Greeting", "mpjpe"] == pytest.approx(32.5)  # not (10 + 40) / 2


def test_sitting_and_sittingdown_are_separate_and_photo_merges():
    acc = ErrorAccumulator()
    acc.add("S9", "Sitting 1", 0, {"mpjpe": _const(10.0, 3)})
    acc.add("S9", "SittingDown", 0, {"mpjpe": _const(50.0, 1)})
    acc.add("S9", "Photo", 0, {"mpjpe": _const(20.0, 1)})
    acc.add("S9", "Photo 1", 0, {"mpjpe": _const(30.0, 3)})
    table = acc.per_action()
    assert list(table.index) == ["Photo", "Sitting", "SittingDown"]
    assert table.loc["Sitting", "mpjpe"] == 10.0
    assert table.loc["SittingDown", "mpjpe"] == 50.0
    assert table.loc["Photo", "mpjpe"] == pytest.approx(27.5)
    assert table.loc["Photo", "frames"] == 4


def test_each_metric_weighted_by_its_own_count():
    acc = ErrorAccumulator()
    acc.add("S9", "Walking", 0, {"mpjpe": _const(1.0, 3), "mpjve": np.array([2.0, 4.0])})
    acc.add("S9", "Walking 1", 0, {"mpjpe": _const(3.0, 1), "mpjve": np.array([])})
    row = acc.per_action().loc["Walking"]
    assert row["mpjpe"] == pytest.approx(1.5)
    assert row["mpjve"] == pytest.approx(3.0)
    assert row["frames"] == 4


def test_duplicates_and_bad_keys_are_refused():
    acc = ErrorAccumulator()
    acc.add("S9", "Walking", "54138969", {"mpjpe": _const(1.0, 2)})
    with pytest.raises(ValueError, match="already added"):
        acc.add("S9", "Walking", "54138969", {"mpjpe": _const(1.0, 2)})
    with pytest.raises(ValueError, match="not a Human3.6M action"):
        acc.add("S9", "Juggling", "54138969", {"mpjpe": _const(1.0, 2)})
    with pytest.raises(ValueError, match="joint errors"):
        acc.add("S9", "Eating", "54138969", {"mpjpe": _const(1.0, 2)}, joint_errors=np.zeros((2, 16)))


def test_per_joint_names_and_consistency_with_headline():
    rng = np.random.default_rng(0)
    acc = ErrorAccumulator()
    for key, frames in [("Walking", 5), ("Eating", 2), ("Eating 1", 9)]:
        joint = rng.uniform(0, 100, size=(frames, 17))
        acc.add("S11", key, 2, {"mpjpe": joint.mean(1)}, joint_errors=joint)
    table = acc.per_joint()
    assert list(table.index) == list(H36M17.joint_names)
    assert table.index.name == "joint"
    summary = acc.summary()
    assert table["mpjpe"].mean() == pytest.approx(summary["mpjpe"])
    assert table["mpjpe_pooled"].mean() == pytest.approx(summary["mpjpe_pooled"])


def test_tables_and_summary_shape():
    acc = ErrorAccumulator()
    assert acc.per_joint().empty
    names = ["mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc"]
    acc.add("S9", "Directions 1", 3, {m: _const(1.0, 4) for m in reversed(names)})
    acc.add("S9", "Waiting", 3, {m: _const(3.0, 4) for m in names})
    table = acc.per_action(averages=True)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == [*names, "frames"]
    assert list(table.index) == ["Directions", "Waiting", "Average", "Pooled"]
    assert table.loc["Average", "auc"] == pytest.approx(2.0)
    assert table["frames"].dtype == np.int64
    summary = acc.summary()
    assert set(summary) == {*names, *(f"{m}_pooled" for m in names), "frames", "sequences", "actions"}
    assert all(isinstance(v, (int, float)) for v in summary.values())
    seqs = acc.per_sequence()
    assert list(seqs["action"]) == ["Directions", "Waiting"] and list(seqs["camera"]) == ["3", "3"]
