"""Starting from other weights: this project's checkpoints and the seeds' own files, matched by name."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pose3d.models import build_model
from pose3d.models.videopose import VideoPose3D
from pose3d.training.init_from import FORMATS, init_from, load_by_name, read_state
from pose3d.training.residual import Residual2D
from tests.models.model_checks import single_thread  # noqa: F401  (fixture)

SMALL = {"arc": [3, 3], "channels": 16}


pytestmark = pytest.mark.usefixtures("single_thread")


def trained(name: str = "videopose", params: dict | None = None, seed: int = 1) -> nn.Module:
    """A model whose every tensor (BN statistics included) differs from a fresh one's."""
    torch.manual_seed(seed)
    model = build_model(name, params or SMALL)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5 if key.endswith("running_var") else torch.randn_like(t))
            else:
                t.fill_(7)
    return model


def assert_same(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def seed_extras() -> dict:
    """What the seeds save beside the weights: pickled numpy random state, optimizer, epoch, lr."""
    return {"epoch": 80, "lr": 1e-5, "random_state": np.random.RandomState(4321).get_state(),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-5, "params": [0, 1]}]}}


# -- this project's checkpoints ------------------------------------------------------------------

def test_pose3d_latest_and_best_round_trip(tmp_path):
    source = trained()
    latest, best = tmp_path / "latest.pt", tmp_path / "best.pt"
    torch.save({"model": source.state_dict(), "optimizer": {}, "history": {"epoch": 3}, "config": {"epochs": 9},
                "identity": {"experiment": "x"}, "rng_cpu": torch.get_rng_state(), "rng_cuda": None}, latest)
    torch.save({"model": source.state_dict(), "epoch": 2, "val_mpjpe_mm": 51.0}, best)
    for path in (latest, best):
        model = build_model("videopose", SMALL)
        report = init_from(model, path)
        assert report.complete and len(report.loaded) == len(source.state_dict())
        assert str(path) in report.describe()
        assert_same(model, source)


def test_a_bare_state_dict_is_accepted(tmp_path):
    source = trained()
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    model = build_model("videopose", SMALL)
    assert load_by_name(model, read_state(tmp_path / "weights.pt")).complete
    assert_same(model, source)


def test_the_lcn_wrapper_prefix_is_aligned_both_ways():
    plain, wrapped = trained(), Residual2D(trained(seed=2))
    target = Residual2D(build_model("videopose", SMALL))
    report = load_by_name(target, plain.state_dict())
    assert report.complete and "'net.' added" in report.describe()
    assert_same(target.net, plain)
    back = build_model("videopose", SMALL)
    assert load_by_name(back, wrapped.state_dict()).complete
    assert_same(back, wrapped.net)


# -- VideoPose3D -----------------------------------------------------------------------------------

def test_videopose3d_bin_with_data_parallel_prefix(tmp_path):
    source = trained()
    path = tmp_path / "pretrained_h36m_cpn.bin"
    torch.save({**seed_extras(), "model_pos": {"module." + k: v for k, v in source.state_dict().items()},
                "model_traj": None, "random_state_semi": None}, path)
    state = read_state(path, "videopose3d")
    # VideoPose3D's layer names (common/model.py): expand_conv has no bias, shrink has one
    assert {"expand_conv.weight", "expand_bn.running_var", "layers_conv.1.weight", "layers_bn.1.num_batches_tracked",
            "shrink.weight", "shrink.bias"} <= set(state)
    assert "expand_conv.bias" not in state
    model = build_model("videopose", SMALL)
    assert init_from(model, path, "videopose3d", strict=True).complete
    assert_same(model, source)
    x = torch.randn(2, 9, 17, 2)
    assert torch.equal(model.eval()(x), source.eval()(x))


def test_videopose3d_published_shapes_load_into_the_published_configuration(tmp_path):
    """1024 channels, arc 3,3,3: the names and shapes torch.save writes for VideoPose3D's 27-frame model."""
    shapes = {"expand_conv.weight": (1024, 34, 3), "shrink.weight": (51, 1024, 1), "shrink.bias": (51,)}
    for i in range(4):
        shapes[f"layers_conv.{i}.weight"] = (1024, 1024, 3 if i % 2 == 0 else 1)
    for bn in ["expand_bn"] + [f"layers_bn.{i}" for i in range(4)]:
        shapes.update({f"{bn}.{p}": (1024,) for p in ("weight", "bias", "running_mean", "running_var")})
        shapes[f"{bn}.num_batches_tracked"] = ()
    with torch.device("meta"):
        model = VideoPose3D(arc=(3, 3, 3))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == shapes


# -- RIE (stand-in with RIE's naming; the real module is checked where it is integrated) ------------

class PartModel(nn.Module):
    """RIE's naming scheme on small parts: local encoders, a global encoder, optional fusion, decoders."""

    def __init__(self, fusion: bool):
        super().__init__()
        self.LocalLayer_Torso = VideoPose3D(5, 4, arc=(3, 3), channels=8)
        self.LocalLayer_LArm = VideoPose3D(3, 4, arc=(3, 3), channels=8)
        self.GlobalInfo = nn.Sequential(nn.Linear(34, 8), nn.BatchNorm1d(8))
        if fusion:
            self.FuseBlocks = nn.ModuleList(nn.Linear(12, 12) for _ in range(2))
        self.Integration_Torso = nn.Linear(36 if fusion else 24, 15)


def test_rie_bin_round_trip(tmp_path):
    torch.manual_seed(3)
    source, path = PartModel(fusion=True), tmp_path / "stage_2_epoch_80.bin"
    torch.save({**seed_extras(), "model_pos": source.state_dict()}, path)
    model = PartModel(fusion=True)
    assert init_from(model, path, "rie", strict=True).complete
    assert_same(model, source)


def test_rie_stage_two_starts_from_stage_one_encoders_by_pattern(tmp_path):
    torch.manual_seed(4)
    stage1, path = PartModel(fusion=False), tmp_path / "stage_1_epoch_80.bin"
    torch.save({**seed_extras(), "model_pos": stage1.state_dict()}, path)
    stage2 = PartModel(fusion=True)
    fresh = {k: v.clone() for k, v in stage2.state_dict().items()}
    report = init_from(stage2, path, "rie", include=["LocalLayer_*", "GlobalInfo.*"], strict=True)
    assert report.complete
    assert set(report.skipped) == {"Integration_Torso.weight", "Integration_Torso.bias"}
    for key, value in stage2.state_dict().items():
        expected = stage1.state_dict()[key] if key.startswith(("LocalLayer_", "GlobalInfo.")) else fresh[key]
        assert torch.equal(value, expected), key
    # without the patterns the decoder's input width differs and the fusion blocks are absent
    loose = load_by_name(PartModel(fusion=True), stage1.state_dict())
    assert ("Integration_Torso.weight", (15, 24), (15, 36)) in loose.mismatched
    assert set(loose.missing) == {f"FuseBlocks.{i}.{p}" for i in range(2) for p in ("weight", "bias")}


# -- SRNet ------------------------------------------------------------------------------------------

def to_srnet_names(state: dict) -> dict:
    """Our SRNet names written the way SRNet's FlexGroupLayer names them (final_layer, group_conv,
    get_part_info.m_conv / layers_bn)."""
    out = {}
    for key, value in state.items():
        key = key.replace("shrink.", "final_layer.", 1) if key.startswith("shrink.") else key
        key = key.replace(".group_convs.", ".group_conv.")
        parts = key.split(".")
        if "gates" in parts:
            i = parts.index("gates")
            if parts[i + 2] == "bn":
                parts[i:i + 3] = ["get_part_info", "layers_bn", parts[i + 1]]
            else:
                parts[i:i + 2] = ["get_part_info", "m_conv", parts[i + 1]]
        out[".".join(parts)] = value
    return out


@pytest.mark.parametrize("recombine, arc", [("multiply", [3, 3]), ("add", [3, 3]), ("concat", [1, 1, 1])])
def test_srnet_bin_round_trip(tmp_path, recombine, arc):
    params = {"arc": arc, "channels": 64, "recombine": recombine}
    source = trained("srnet", params)
    path = tmp_path / "latest_epoch_sr.bin"
    torch.save({**seed_extras(), "loss 3d train": 0.1, "model_pos": to_srnet_names(source.state_dict())}, path)
    model = build_model("srnet", params)
    assert init_from(model, path, "srnet", strict=True).complete
    assert_same(model, source)


def test_srnet_published_gp5_names_and_shapes(tmp_path):
    """A few tensors of SRNet's gp5 / multiply / others model at 1024 channels, arc 1,1,1, as its code names them."""
    seed = {  # name: shape
        "expand_conv.group_conv.2.weight": (243, 10, 1),
        "expand_conv.get_part_info.m_conv.2.weight": (1, 32, 1),
        "expand_conv.get_part_info.m_conv.0.bias": (1,),
        "expand_conv.get_part_info.layers_bn.4.running_var": (1,),
        "layers_conv.3.get_part_info.m_conv.4.weight": (1, 828, 1),
        "layers_conv.3.group_conv.4.weight": (196, 196, 1),
        "final_layer.group_conv.4.weight": (13, 196, 1),
        "final_layer.get_part_info.m_conv.1.weight": (1, 829, 1),
        "layers_bn.3.running_mean": (1024,),
    }
    path = tmp_path / "latest_epoch_sr.bin"
    torch.save({**seed_extras(), "model_pos": {k: torch.zeros(s) for k, s in seed.items()}}, path)
    state = read_state(path, "srnet")
    with torch.device("meta"):
        ours = build_model("srnet", {}).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(ours[k].shape) for k in state}
    assert "shrink.group_convs.4.weight" in state and "expand_conv.gates.4.bn.running_var" in state


def test_srnet_concat_with_temporal_kernels_is_refused(tmp_path):
    """SRNet's concat gates only agree with ours at kernel 1; a wider kernel would load and differ."""
    source = trained("srnet", {"arc": [3, 3], "channels": 64, "recombine": "concat"})
    torch.save({"model_pos": to_srnet_names(source.state_dict())}, tmp_path / "concat.bin")
    with pytest.raises(ValueError, match=r"concat\.bin: SRNet 'concat' with temporal kernel 3"):
        read_state(tmp_path / "concat.bin", "srnet")


def test_srnet_fc_baseline_keeps_videopose_names(tmp_path):
    source = trained("fc", {"variant": "srnet", "arc": [1, 1, 1], "channels": 32})
    path = tmp_path / "latest_epoch_fc.bin"
    torch.save({**seed_extras(), "model_pos": source.state_dict()}, path)
    model = build_model("fc", {"variant": "srnet", "arc": [1, 1, 1], "channels": 32})
    assert init_from(model, path, "srnet", strict=True).complete
    assert_same(model, source)


def test_srnet_one_group_drops_the_empty_gate_weight(tmp_path):
    params = {"arc": [1, 1], "channels": 32, "groups": 1}
    source = trained("srnet", params)
    seed = to_srnet_names(source.state_dict())
    seed["expand_conv.get_part_info.m_conv.0.weight"] = torch.zeros(1, 0, 1)  # SRNet keeps a 0-channel conv
    torch.save({"model_pos": seed}, tmp_path / "gp1.bin")
    model = build_model("srnet", params)
    assert init_from(model, tmp_path / "gp1.bin", "srnet", strict=True).complete
    assert_same(model, source)


def test_srnet_split_all_and_ablations_are_refused(tmp_path):
    split_all = {"expand_conv.group_conv.0.weight": torch.zeros(195, 8, 1),
                 "expand_conv.get_all_info.m_conv.0.weight": torch.zeros(1, 34, 1)}
    torch.save({"model_pos": split_all}, tmp_path / "all.bin")
    with pytest.raises(ValueError, match=r"all\.bin.*split 'all'.*expand_conv\.get_all_info\.m_conv\.0\.weight"):
        read_state(tmp_path / "all.bin", "srnet")
    ablation = {"expand_conv.group_conv.0.weight": torch.zeros(195, 8, 1),
                "expand_conv.get_part_info.group_mo.0.weight": torch.zeros(1, 8, 1)}
    torch.save({"model_pos": ablation}, tmp_path / "ablation.bin")
    with pytest.raises(ValueError, match=r"ablation\.bin.*no counterpart.*get_part_info\.group_mo\.0\.weight"):
        read_state(tmp_path / "ablation.bin", "srnet")


# -- patterns, reports, strict mode ---------------------------------------------------------------

def test_include_and_exclude_patterns():
    source, model = trained(), build_model("videopose", SMALL)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_by_name(model, source.state_dict(), include=["expand_*", "layers_*"], exclude=["layers_bn.*"])
    assert report.complete
    assert all(k.startswith(("expand_", "layers_conv.")) for k in report.loaded)
    assert set(report.skipped) == {k for k in fresh if k.startswith(("layers_bn.", "shrink."))}
    for key, value in model.state_dict().items():
        assert torch.equal(value, source.state_dict()[key] if key in report.loaded else fresh[key]), key
    with pytest.raises(TypeError):
        load_by_name(model, source.state_dict(), include="shrink.*")


def test_mismatch_unexpected_and_missing_are_reported():
    source, model = trained(), build_model("videopose", SMALL)
    state = dict(source.state_dict())
    state["shrink.weight"] = torch.zeros(3, 16, 1)
    state["extra.weight"] = torch.zeros(2)
    del state["shrink.bias"]
    report = load_by_name(model, state, source="other.pt")
    assert report.mismatched == (("shrink.weight", (3, 16, 1), (51, 16, 1)),)
    assert report.unexpected == ("extra.weight",)
    assert report.missing == ("shrink.bias",)
    assert not report.complete and len(report.loaded) == len(state) - 2
    line = report.describe()
    assert "\n" not in line
    for part in ("other.pt", "1 missing (shrink.bias)", "1 unexpected (extra.weight)",
                 "shrink.weight file [3, 16, 1] vs ours [51, 16, 1]"):
        assert part in line
    assert torch.equal(model.expand_conv.weight, source.expand_conv.weight)


def test_strict_names_the_file_and_every_misfit_and_loads_nothing(tmp_path):
    source, model = trained(), build_model("videopose", SMALL)
    state = dict(source.state_dict())
    state["shrink.weight"] = torch.zeros(3, 16, 1)
    state["extra.weight"] = torch.zeros(2)
    del state["shrink.bias"]
    path = tmp_path / "epoch_10.bin"
    torch.save({"model_pos": state}, path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as err:
        init_from(model, path, "videopose3d", strict=True)
    message = str(err.value)
    for part in (str(path), "missing shrink.bias", "unexpected extra.weight",
                 "shrink.weight: file [3, 16, 1] vs ours [51, 16, 1]"):
        assert part in message
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# -- bad input --------------------------------------------------------------------------------------

def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        read_state(tmp_path / "nothing.pt")
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match=r"notes\.txt: not a PyTorch checkpoint"):
        read_state(tmp_path / "notes.txt", "videopose3d")
    torch.save({"epoch": 3, "model": {}}, tmp_path / "no_pos.bin")
    with pytest.raises(ValueError, match=r"no_pos\.bin: no 'model_pos' entry"):
        read_state(tmp_path / "no_pos.bin", "rie")
    torch.save({"model_pos": trained().state_dict()}, tmp_path / "seed.bin")
    with pytest.raises(ValueError, match=r"seed\.bin: no 'model' entry.*'model_pos'"):
        read_state(tmp_path / "seed.bin")
    torch.save({"model_pos": {"a": 1}}, tmp_path / "odd.bin")
    with pytest.raises(ValueError, match=r"odd\.bin: 'model_pos' is not a state dict"):
        read_state(tmp_path / "odd.bin", "srnet")
    with pytest.raises(ValueError, match=r"seed\.bin: unknown checkpoint format 'caffe'"):
        read_state(tmp_path / "seed.bin", "caffe")
    assert FORMATS == ("pose3d", "videopose3d", "srnet", "rie")
