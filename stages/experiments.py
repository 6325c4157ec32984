"""Named experiments of params.yaml: the common ``train`` section overlaid with one entry."""
from __future__ import annotations

import difflib
from dataclasses import fields
from pathlib import Path

from torch import nn

from pose3d.h36m.sequences_csv import read_exclusions
from pose3d.params import as_dict, section
from pose3d.models import build_model, hyperparameter_names, model_params
from pose3d.training.loop import TrainConfig
from pose3d.training.normalization import MODES
from pose3d.training.holdout import hold_out_validation, validation_subjects
from pose3d.training.protocols import Split, make_split
from pose3d.training.residual import Residual2D

#: convert's table of sequences, with the views it excluded
SEQUENCES_CSV = Path("data/processed/poses/sequences.csv")
#: models with a strided training twin and a dilated whole-sequence form
TEMPORAL_MODELS = ("videopose", "srnet")
#: keys of an experiment that are not model hyper-parameters
RUN_KEYS = frozenset({f.name for f in fields(TrainConfig)} | {
    "model", "norm", "protocol", "train_action", "train_cameras", "test_cameras",
    "device", "val_max_views", "val_subjects", "frame_stride", "nproc",
})


def experiment_config(params: dict, name: str) -> dict:
    """``train`` overlaid with ``experiments.<name>``; unknown keys and values are errors, so a
    typo in params.yaml cannot silently train the default."""
    experiments = params.get("experiments") or {}
    if name not in experiments:
        raise KeyError(f"no experiment {name!r} under experiments: in params.yaml (have {', '.join(experiments)})")
    cfg = {**as_dict(section(params, "train")), **(experiments[name] or {})}
    if "model" not in cfg:
        raise ValueError("no 'model' (fc, videopose or srnet)")
    known = RUN_KEYS | hyperparameter_names(cfg["model"], cfg)
    for key in sorted(set(cfg) - known):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else f" for model {cfg['model']!r}"
        raise ValueError(f"unknown key {key!r}{hint}")
    if cfg.get("norm", "base") not in MODES:
        raise ValueError(f"norm {cfg['norm']!r} is not one of {', '.join(MODES)}")
    return cfg


def split_for(cfg: dict, params: dict, available: dict, sequences_csv: Path | str = SEQUENCES_CSV) -> Split:
    """The experiment's protocol split of ``available``, without the views convert excluded
    (``sequences_csv``; a missing or malformed file is a ValueError naming it)."""
    ds = params.get("dataset", {})
    return make_split(
        cfg.get("protocol", "cross_subject"),
        available,
        list(ds.get("train_subjects", [])),
        list(ds.get("test_subjects", [])),
        train_action=cfg.get("train_action"),
        train_cameras=cfg.get("train_cameras"),
        test_cameras=cfg.get("test_cameras"),
        excluded_views=read_exclusions(sequences_csv).views(),
    )


def validation_for(cfg: dict, params: dict, split: Split) -> tuple[Split, list[str]]:
    """``split`` with its validation views held out of training (``val_subjects``: the last
    training subject by default), and the subjects they come from."""
    train_subjects = list((params.get("dataset") or {}).get("train_subjects", []))
    subjects = validation_subjects(cfg.get("val_subjects"), train_subjects)
    return hold_out_validation(split, subjects), subjects


def build_experiment_model(cfg: dict, training: bool) -> nn.Module:
    """The experiment's network: the strided single-frame twin to train a temporal model,
    the dilated whole-sequence form to evaluate it (same weights, same state_dict); in the
    ``lcn`` normalisation x, y are predicted as a residual on the 2D input."""
    name = cfg["model"]
    params = model_params(name, cfg)
    if name in TEMPORAL_MODELS:
        params["strided"] = training
    model = build_model(name, params)
    return Residual2D(model) if cfg.get("norm", "base") == "lcn" else model
