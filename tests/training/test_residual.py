"""The lcn head adds the 2D input of the predicted frames to the network's x, y."""
from __future__ import annotations

import torch

from pose3d.models import build_model
from pose3d.training.residual import Residual2D


def test_strided_and_dilated_forms_add_the_centre_frames():
    torch.manual_seed(0)
    net = build_model("videopose", {"arc": [3, 3], "channels": 16, "dropout": 0.0}).eval()
    head = Residual2D(net).eval()
    assert head.receptive_field == 9
    x = torch.randn(2, 9, 17, 2)
    net.strided, out = True, None
    out = head(x)
    raw = net(x)
    assert out.shape == (2, 1, 17, 3)
    assert torch.allclose(out[..., :2], raw[..., :2] + x[:, 4:5])
    assert torch.equal(out[..., 2], raw[..., 2])
    net.strided = False
    seq = torch.randn(1, 30, 17, 2)
    out, raw = head(seq), net(seq)
    assert out.shape == (1, 22, 17, 3)
    assert torch.allclose(out[..., :2], raw[..., :2] + seq[:, 4:26])


def test_state_dict_round_trips_between_twins():
    a = Residual2D(build_model("fc", {}))
    b = Residual2D(build_model("fc", {}))
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
