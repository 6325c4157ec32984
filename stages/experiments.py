"""Named experiments of params.yaml: the common ``train`` section overlaid with one entry."""
from __future__ import annotations

from torch import nn

from pose3d.models import build_model, model_params
from pose3d.training.protocols import Split, make_split


#: models with a strided training twin and a dilated whole-sequence form
TEMPORAL_MODELS = ("videopose", "srnet")
#: input/target normalisations the training pipeline applies (SRNet's others: pose3d.training.normalization)
SUPPORTED_NORMS = ("base",)


def experiment_config(params: dict, name: str) -> dict:
    experiments = params.get("experiments") or {}
    if name not in experiments:
        raise KeyError(f"no experiment {name!r} under experiments: in params.yaml (have {', '.join(experiments)})")
    cfg = {**(params.get("train") or {}), **experiments[name]}
    if cfg.get("norm", "base") not in SUPPORTED_NORMS:
        raise ValueError(f"norm {cfg['norm']!r}: the training pipeline applies {', '.join(SUPPORTED_NORMS)} only so far")
    return cfg


def split_for(cfg: dict, params: dict, available: dict) -> Split:
    ds = params.get("dataset", {})
    return make_split(
        cfg.get("protocol", "cross_subject"),
        available,
        list(ds.get("train_subjects", [])),
        list(ds.get("test_subjects", [])),
        train_action=cfg.get("train_action"),
        train_cameras=cfg.get("train_cameras"),
        test_cameras=cfg.get("test_cameras"),
    )


def build_experiment_model(cfg: dict, training: bool) -> nn.Module:
    """The experiment's network: the strided single-frame twin to train a temporal model,
    the dilated whole-sequence form to evaluate it (same weights, same state_dict)."""
    name = cfg["model"]
    params = model_params(name, cfg)
    if name in TEMPORAL_MODELS:
        params["strided"] = training
    return build_model(name, params)
