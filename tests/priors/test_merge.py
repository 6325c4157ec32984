"""Merging a pelvis source into the triangulation, on hand-made sequences."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d.priors.merge import PelvisSourceError, merge_metrics, merge_priors, read_priors, source_file


def _seq(n: int, value: float, valid=True) -> dict:
    ok = np.broadcast_to(np.asarray(valid, bool).reshape(-1, 1), (n, 17)).copy()
    kp = np.where(ok[..., None], np.full((n, 17, 3), value, np.float32), np.nan).astype(np.float32)
    return {"keypoints_3d": kp, "valid": ok, "inlier_views": np.repeat(ok[..., None], 4, axis=-1),
            "error_mm": np.where(ok, np.float32(value), np.nan).astype(np.float32)}


def test_frames_with_a_valid_source_pelvis_are_taken_whole():
    tri = {"S9": {"Walking 1": _seq(4, 1.0, [True, True, False, True])}}
    src = {"S9": {"Walking 1": _seq(4, 5.0, [False, True, True, True])}}
    m = merge_priors(tri, src, "alg.npz")["S9"]["Walking 1"]
    np.testing.assert_array_equal(m.from_source, [False, True, True, True])
    np.testing.assert_array_equal(m.keypoints_3d[:, 0, 0], [1, 5, 5, 5])
    assert m.valid.all() and m.keypoints_3d.dtype == np.float32
    metrics = merge_metrics({"S9": {"Walking 1": m}}, tri, "algebraic:x")
    assert metrics["from_source_frames"] == 3 and metrics["from_source_fraction"] == 0.75
    assert metrics["pelvis_error_mm"] == pytest.approx((1 + 5 * 3) / 4)
    on = metrics["on_source_frames"]
    assert on["source_pelvis_error_mm"] == 5 and on["triangulation_pelvis_error_mm"] == 1
    assert on["triangulation_valid_frames"] == 2


@pytest.mark.parametrize("src, message", [
    ({"S9": {"Walking 1": {k: v for k, v in _seq(4, 5.0).items() if k != "error_mm"}}},
     "alg.npz: S9/Walking 1 has no error_mm"),
    ({"S9": {"Walking 1": {**_seq(4, 5.0), "inlier_views": np.ones((4, 17, 3), bool)}}},
     r"alg.npz: S9/Walking 1 inlier_views has shape (4, 17, 3), the triangulation (4, 17, 4)"),
    ({"S9": {"Walking 1": {**_seq(4, 5.0), "keypoints_3d": np.full((4, 17, 3), np.nan, np.float32)}}},
     "alg.npz: S9/Walking 1 has 4 frames whose pelvis is valid but not finite"),
])
def test_a_source_that_does_not_fit_is_refused(src, message):
    with pytest.raises(PelvisSourceError) as exc:
        merge_priors({"S9": {"Walking 1": _seq(4, 1.0)}}, src, "alg.npz")
    assert str(exc.value) == message


def test_an_unreadable_file_is_named(tmp_path):
    path = source_file(tmp_path, "algebraic:x")
    assert path.name == "algebraic:x.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(PelvisSourceError, match="algebraic:x.npz: not a readable pelvis priors npz"):
        read_priors(path, "hint")
