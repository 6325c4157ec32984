"""Image models: torchvision-compatible names and sizes, the heatmap decoders, voxel coordinates."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d.models.integral import Integral, from_voxels, soft_argmax_3d, to_voxels
from pose3d.models.keypoints2d import Keypoints2D, argmax_refined, confidence, soft_argmax_2d
from pose3d.models.resnet import PoseResNet, ResNet
from pose3d.training.init_from import load_by_name, read_state


def count(m: torch.nn.Module, prefixes: tuple[str, ...] = ()) -> int:
    return sum(p.numel() for n, p in m.named_parameters() if not prefixes or n.startswith(prefixes))


def build(cls, *args, **kwargs):
    """Shapes only: the meta device allocates nothing, so large nets count in milliseconds."""
    with torch.device("meta"):
        return cls(*args, **kwargs)


HEAD = ("deconv_layers.", "final_layer.")


@pytest.mark.parametrize("cls, kwargs, expected", [
    (ResNet, dict(resnet=18, num_classes=1000), 11_689_512),
    (ResNet, dict(resnet=50, num_classes=1000), 25_557_032),
    (PoseResNet, dict(resnet=18, head_filters=256, out_channels=17), 15_376_721),
    (PoseResNet, dict(resnet=50, head_filters=256, out_channels=17), 33_999_697),
    (PoseResNet, dict(resnet=152, head_filters=256, out_channels=17), 68_635_473),
    (Integral, dict(resnet=50, head_filters=256, num_joints=18, depth_bins=64), 34_291_392),
])
def test_parameter_counts(cls, kwargs, expected):
    assert count(build(cls, **kwargs)) == expected


def test_integral_parts():
    m = build(Integral, resnet=50, head_filters=256, num_joints=18, depth_bins=64)
    assert count(m) - count(m, HEAD) == 23_508_032
    assert count(m, ("deconv_layers.",)) == 10_487_296
    assert count(m, ("final_layer.",)) == 296_064
    assert count(build(Integral, resnet=50, head_filters=256, num_joints=17, depth_bins=64), HEAD) == 10_766_912


def test_out_channels():
    assert ResNet(18).out_channels == 512
    assert build(ResNet, 50).out_channels == 2048
    assert not hasattr(ResNet(18), "fc")
    assert ResNet(18, num_classes=10)(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    assert ResNet(18).features(torch.randn(1, 3, 64, 64)).shape == (1, 512, 2, 2)


def torchvision_resnet18(seed: int = 0) -> dict[str, torch.Tensor]:
    """torchvision's resnet18 state-dict names and shapes, written out independently of our model."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def conv(name, out, inp, k):
        state[f"{name}.weight"] = torch.randn(out, inp, k, k, generator=g)

    def bn(name, c):
        for p in ("weight", "bias", "running_mean"):
            state[f"{name}.{p}"] = torch.randn(c, generator=g)
        state[f"{name}.running_var"] = torch.rand(c, generator=g) + 0.5
        state[f"{name}.num_batches_tracked"] = torch.tensor(int(torch.randint(1, 1000, (), generator=g)))

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inp = 64
    for k, c in enumerate((64, 128, 256, 512), 1):
        for i in range(2):
            p = f"layer{k}.{i}"
            conv(f"{p}.conv1", c, inp if i == 0 else c, 3)
            bn(f"{p}.bn1", c)
            conv(f"{p}.conv2", c, c, 3)
            bn(f"{p}.bn2", c)
            if k > 1 and i == 0:
                conv(f"{p}.downsample.0", c, inp, 1)
                bn(f"{p}.downsample.1", c)
        inp = c
    state["fc.weight"] = torch.randn(1000, 512, generator=g)
    state["fc.bias"] = torch.randn(1000, generator=g)
    return state


def check_imagenet_load(model: torch.nn.Module, state: dict, report) -> None:
    backbone = {k for k in state if not k.startswith("fc.")}
    assert len(backbone) == 6 + 2 * 12 + 3 * (2 * 12 + 6)  # 120 tensors, buffers included
    assert set(report.loaded) == backbone
    assert set(report.unexpected) == {"fc.weight", "fc.bias"}
    assert not report.mismatched
    assert report.missing and all(k.startswith(HEAD) for k in report.missing)
    assert set(report.missing) == {k for k in model.state_dict() if k.startswith(HEAD)}
    own = model.state_dict()
    for k in backbone:
        assert torch.equal(own[k], state[k]), k


@pytest.mark.parametrize("make", [lambda: PoseResNet(resnet=18), lambda: Keypoints2D(resnet=18)])
def test_torchvision_state_loads_by_name(make):
    state = torchvision_resnet18()
    model = make()
    check_imagenet_load(model, state, load_by_name(model, state, source="resnet18.pth"))


@pytest.mark.parametrize("prefix", ["", "module."])
def test_torchvision_file_loads(tmp_path, prefix):
    state = torchvision_resnet18(seed=1)
    path = tmp_path / "resnet18.pth"
    torch.save({prefix + k: v for k, v in state.items()}, path)
    read = read_state(path, "pose3d")
    assert set(read) == set(state)
    model = Keypoints2D(resnet=18)
    check_imagenet_load(model, state, load_by_name(model, read, source=str(path)))


def test_soft_argmax_2d_one_hot():
    maps = torch.zeros(2, 3, 8, 10)
    peaks = [(1, 2), (9, 7), (0, 0), (4, 5), (6, 3), (9, 0)]  # (x, y)
    for n, (x, y) in enumerate(peaks):
        maps[n // 3, n % 3, y, x] = 1e4
    out = soft_argmax_2d(maps)
    assert out.shape == (2, 3, 2)
    assert torch.allclose(out.reshape(-1, 2), torch.tensor(peaks, dtype=torch.float32), atol=1e-4)
    sharp = torch.zeros(1, 1, 8, 10)
    sharp[0, 0, 5, 3] = 1.0
    assert torch.allclose(soft_argmax_2d(sharp, beta=1e4), torch.tensor([[[3.0, 5.0]]]), atol=1e-4)
    flat = soft_argmax_2d(torch.zeros(1, 1, 8, 10))
    assert torch.allclose(flat, torch.tensor([[[4.5, 3.5]]]))


def test_argmax_refined():
    maps = torch.zeros(1, 2, 8, 10)
    maps[0, 0, 4, 3] = 5.0
    maps[0, 0, 4, 4] = 2.0  # higher right neighbour
    maps[0, 0, 4, 2] = 1.0
    maps[0, 1, 3, 6] = 5.0
    maps[0, 1, 2, 6] = 1.0  # higher upper neighbour
    out = argmax_refined(maps)
    assert torch.equal(out, torch.tensor([[[3.25, 4.0], [6.0, 2.75]]]))
    border = torch.zeros(1, 1, 8, 10)
    border[0, 0, 0, 9] = 1.0
    border[0, 0, 1, 9] = 0.5
    assert torch.equal(argmax_refined(border), torch.tensor([[[9.0, 0.0]]]))  # no neighbour on the right/top


def test_confidence():
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 1, 1] = 1e4
    c = confidence(maps)
    assert c.shape == (1, 2)
    assert torch.allclose(c, torch.tensor([[1.0, 1 / 16]]))


def test_soft_argmax_3d_channel_layout():
    j_count, d_count, h, w = 3, 4, 5, 6
    channels = torch.zeros(1, j_count * d_count, h, w)  # what final_layer emits
    planted = {0: (2, 1, 3), 1: (5, 4, 0), 2: (0, 0, 3)}  # joint -> (x, y, z)
    for j, (x, y, z) in planted.items():
        channels[0, j * d_count + z, y, x] = 1e4
    out = soft_argmax_3d(channels.reshape(1, j_count, d_count, h, w))
    assert out.shape == (1, 3, 3)
    expected = torch.tensor([planted[j] for j in range(j_count)], dtype=torch.float32)
    assert torch.allclose(out[0], expected, atol=1e-4)


def test_keypoints2d_shapes_and_gradients():
    torch.manual_seed(0)
    m = Keypoints2D(resnet=18, head_filters=64)
    x = torch.randn(2, 3, 64, 64)
    assert m.heatmaps(x).shape == (2, 17, 16, 16)
    out = m(x)
    assert out.shape == (2, 17, 2)
    out.sum().backward()
    assert m.conv1.weight.grad is not None and m.final_layer.weight.grad is not None
    m.decode = "argmax"
    with torch.no_grad():
        assert m(x).shape == (2, 17, 2)
    with pytest.raises(ValueError):
        Keypoints2D(decode="max")


def test_integral_shapes_and_gradients():
    torch.manual_seed(0)
    m = Integral(resnet=18, head_filters=64, depth_bins=16)
    x = torch.randn(2, 3, 64, 64)
    assert m.volumes(x).shape == (2, 17, 16, 16, 16)
    out = m(x)
    assert out.shape == (2, 17, 3)
    out.sum().backward()
    assert m.conv1.weight.grad is not None


def test_voxel_mapping_known_values():
    uv = np.array([[-0.5, 63.5], [31.5, 0.0]])
    z = np.array([0.0, -1000.0])
    xyz = to_voxels(uv, z, input_size=64, heatmap_size=16, depth_bins=16)
    np.testing.assert_allclose(xyz, [[-0.5, 15.5, 7.5], [7.5, -0.375, -0.5]], rtol=0, atol=1e-12)
    end = to_voxels(np.zeros(2), np.array(1000.0), 64, 16, 16)
    assert end[2] == 15.5  # the range's far end on the last bin's edge


@pytest.mark.parametrize("torch_input", [False, True])
def test_voxel_round_trip(torch_input):
    rng = np.random.default_rng(0)
    uv = rng.uniform(-10, 74, size=(50, 17, 2))
    z = rng.uniform(-1200, 1200, size=(50, 17))
    if torch_input:
        uv, z = torch.from_numpy(uv), torch.from_numpy(z)
    xyz = to_voxels(uv, z, 64, 16, 16)
    assert xyz.shape == (50, 17, 3) and xyz.dtype == (torch.float64 if torch_input else np.float64)
    uv2, z2 = from_voxels(xyz, 64, 16, 16)
    np.testing.assert_allclose(np.asarray(uv2), np.asarray(uv), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.asarray(z2), np.asarray(z), rtol=0, atol=1e-9)
