"""Predicting chosen frames of several versions of a sequence at once equals the whole-sequence prediction."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.experiments import build_experiment_model, experiment_config, skeleton_for
from pose3d.training.inference import predict_frames, predict_sequence

ENTRIES = {
    "videopose": {"model": "videopose", "arc": [3, 3], "channels": 16},
    "srnet": {"model": "srnet", "arc": [3, 3], "groups": 5, "channels": 40},
    "rie": {"model": "rie", "arc": [3], "channels": 8, "latent": 8, "hidden": 16},
    "fc": {"model": "fc", "channels": 16, "use_scores": True},
    "rsnet": {"model": "rsnet", "hidden": 8, "post_refine": True},
}


@pytest.mark.parametrize("name", list(ENTRIES))
def test_windows_of_the_strided_twin_equal_the_whole_sequence(name):
    cfg = experiment_config({"experiments": {"e": ENTRIES[name]}}, "e")
    torch.manual_seed(0)
    whole = build_experiment_model(cfg, training=False).eval()
    twin = build_experiment_model(cfg, training=True)
    twin.load_state_dict(whole.state_dict())
    twin.eval()
    j, c = whole.num_joints_in, 3 if cfg.get("use_scores") else 2
    rng = np.random.default_rng(1)
    seqs = rng.normal(size=(2, 40, j, c)).astype(np.float32)  # two versions of one view
    camera = np.concatenate([rng.uniform(3, 6, (40, 1)), rng.uniform(0.5, 2, (40, 4))], 1).astype(np.float32)
    cam = camera if name == "rsnet" else None
    frames = np.array([0, 3, 17, 39])  # the edges too: windows are edge-padded as the whole sequence is
    skeleton = skeleton_for(cfg)
    got = predict_frames(twin, seqs, frames, whole.receptive_field, torch.device("cpu"), tta=True, chunk=3,
                         skeleton=skeleton, camera=cam)
    assert got.shape == (2, len(frames), j, 3)
    for k in range(2):
        want = predict_sequence(whole, seqs[k], whole.receptive_field, torch.device("cpu"), tta=True,
                                skeleton=skeleton, camera=cam)
        np.testing.assert_allclose(got[k], want[frames], atol=2e-5)
