"""Protocol splits: excluded views leave training and every test set, and only when given."""
from __future__ import annotations

import pytest

from pose3d.training.protocols import PROTOCOLS, make_split

AVAILABLE = {"S1": ["Directions 1", "Walking 1"], "S9": ["Walking 1"], "S11": ["Directions", "Walking 1"]}
OPTIONS = {
    "cross_subject": {},
    "cross_action": {"train_action": "Directions"},
    "cross_camera": {"train_cameras": [0, 1], "test_cameras": [0, 2]},
}
BROKEN = ("S11", "Directions", 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("subjects", [(["S1", "S11"], ["S9"]), (["S1"], ["S9", "S11"])])
def test_excluded_views_are_dropped_everywhere(protocol, subjects):
    train, test = subjects
    plain = make_split(protocol, AVAILABLE, train, test, **OPTIONS[protocol])
    dropped = make_split(protocol, AVAILABLE, train, test, **OPTIONS[protocol], excluded_views={BROKEN})
    plain_sets, dropped_sets = {"train": plain.train, **plain.tests}, {"train": dropped.train, **dropped.tests}
    assert any(BROKEN in views for views in plain_sets.values())  # present by default
    for name, views in plain_sets.items():
        assert dropped_sets[name] == [v for v in views if v != BROKEN], name
