"""Named experiments of params.yaml: what ``train``, ``evaluate`` and ``report`` resolve the same way.

An entry of ``experiments:`` is the common ``train`` section overlaid with the entry. An entry of
``phases:`` continues another experiment or phase (``from: <name>``): it inherits that one's
resolved settings, except how it starts (``freeze``, ``init_from``), and starts from its weights
(RIE's three stages: encoders, then fusion with the encoders frozen, then everything at a lower
rate). Each phase is its own DVC stage with its own weights, so changing one phase re-runs it and
the phases after it only.

``init_from`` loads weights by name before training: ``{experiment: <name>, checkpoint: last|best}``
(a trained experiment or phase of this project) or ``{file: <path>, format: pose3d|videopose3d|srnet|rie}``
(a checkpoint written by a seed's own code), optionally ``include`` / ``exclude`` name patterns.
With ``epochs: 0`` the loaded weights are scored as they are: a published checkpoint's numbers.

The 2D of a run: ``input_2d`` (what it trains on; ``gt`` by default) and ``eval_input_2d`` (what it
is scored on; the training one by default), entries of ``inputs_2d``. ``use_scores: true`` feeds
the source's confidence as a third input channel per joint. Entries of params.yaml state both
keys, because dvc.yaml names the source's file as the stage's dependency and DVC's templates
have no defaults.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from pathlib import Path

from torch import nn

from pose3d.detections.sources import Source2D
from pose3d.h36m.sequences_csv import read_exclusions
from pose3d.h36m.skeleton import Skeleton
from pose3d.models import build_model, has_training_form, hyperparameter_names, model_params, model_skeleton
from pose3d.params import as_dict, section
from pose3d.training.checkpoints import CHECKPOINTS, Checkpoint, load_checkpoint
from pose3d.training.holdout import hold_out_validation, validation_subjects
from pose3d.training.init_from import FORMATS, LoadReport, load_by_name, read_state
from pose3d.training.loop import OPTIMIZERS, TrainConfig
from pose3d.training.losses import loss_terms
from pose3d.training.normalization import MODES
from pose3d.training.protocols import Split, make_split
from pose3d.training.data import PoseData
from pose3d.training.residual import Residual2D

#: convert's output folder, and its table of sequences with the views it excluded
POSES_DIR = Path("data/processed/poses")
SEQUENCES_CSV = POSES_DIR / "sequences.csv"
#: where train@ writes each experiment's weights
MODELS_DIR = Path("data/models")
#: the sections of params.yaml that hold runnable experiments, in the order they are listed
SECTIONS = ("experiments", "phases")
#: keys of an experiment that are not model hyper-parameters
RUN_KEYS = frozenset({f.name for f in fields(TrainConfig)} | {
    "model", "norm", "protocol", "train_action", "train_cameras", "test_cameras",
    "device", "val_max_views", "val_subjects", "frame_stride", "nproc", "from", "init_from",
    "input_2d", "eval_input_2d", "use_scores",
})
#: keys a phase does not inherit: how a run starts is its own
NOT_INHERITED = ("freeze", "init_from")


def experiment_names(params: dict) -> list[str]:
    """Every experiment and phase, in params.yaml order; a name in both sections is an error."""
    names: list[str] = []
    for sec in SECTIONS:
        for name in params.get(sec) or {}:
            if name in names:
                raise ValueError(f"{name!r} is both an experiment and a phase: names must be unique")
            if "." in str(name):
                raise ValueError(f"{sec}.{name}: a name may not contain '.' (DVC reads it as a nested key)")
            names.append(name)
    return names


def _entry(params: dict, name: str) -> tuple[str, dict]:
    if "." in str(name):
        raise ValueError(f"{name!r}: a name may not contain '.' (DVC reads it as a nested key)")
    for sec in SECTIONS:
        entries = params.get(sec) or {}
        if name in entries:
            return sec, dict(entries[name] or {})
    raise KeyError(f"no experiment {name!r} under {' or '.join(SECTIONS)}: in params.yaml "
                   f"(have {', '.join(experiment_names(params))})")


def _resolve(params: dict, name: str, chain: tuple[str, ...]) -> dict:
    if name in chain:
        raise ValueError(f"phases form a cycle: {' -> '.join((*chain, name))}")
    sec, entry = _entry(params, name)
    if sec == "experiments":
        if "from" in entry:
            raise ValueError(f"{name}: 'from' belongs under phases:, not experiments:")
        return {**as_dict(section(params, "train")), **entry}
    parent = entry.get("from")
    if not isinstance(parent, str):
        raise ValueError(f"phase {name!r} needs 'from: <experiment or phase>'")
    inherited = {k: v for k, v in _resolve(params, parent, (*chain, name)).items() if k not in NOT_INHERITED}
    return {**inherited, **entry}


def experiment_config(params: dict, name: str) -> dict:
    """The resolved settings of experiment or phase ``name``; unknown keys and values are errors,
    so a typo in params.yaml cannot silently train the default."""
    cfg = _resolve(params, name, ())
    if "model" not in cfg:
        raise ValueError("no 'model' (fc, videopose, srnet, rie, rsnet or package.module:Class)")
    known = RUN_KEYS | hyperparameter_names(cfg["model"], cfg)
    for key in sorted(set(cfg) - known):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else f" for model {cfg['model']!r}"
        raise ValueError(f"unknown key {key!r}{hint}")
    if "in_channels" in cfg:
        raise ValueError("in_channels is set by use_scores: true (x, y and the score), not directly")
    if cfg.get("norm", "base") not in MODES:
        raise ValueError(f"norm {cfg['norm']!r} is not one of {', '.join(MODES)}")
    if cfg.get("eval_input_2d") is None:
        cfg["eval_input_2d"] = cfg["input_2d"]
    train_config(cfg)  # recipe values (optimizer, schedule, loss) checked before any data is read
    if "init_from" in cfg:
        init_spec(cfg)
    return cfg


def train_config(cfg: dict) -> TrainConfig:
    """The training-loop settings of a resolved experiment, checked."""
    tc = TrainConfig(**{k: cfg[k] for k in TrainConfig.__dataclass_fields__ if k in cfg})
    tc.lr_schedule()
    loss_terms(tc.loss)
    if tc.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {tc.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if int(tc.epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {tc.epochs}")
    return tc


@dataclass(frozen=True)
class InitSpec:
    """Where an experiment's starting weights come from."""

    experiment: str | None = None
    checkpoint: str = "last"
    file: str | None = None
    format: str = "pose3d"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: every selected tensor must fit, or nothing loads; default: for files (a published model is
    #: all or nothing), not for experiments (a phase may change the architecture and say what it took)
    strict: bool | None = None

    @property
    def path(self) -> Path:
        return Path(self.file) if self.file else MODELS_DIR / str(self.experiment)

    def describe(self) -> str:
        src = f"{self.file} ({self.format})" if self.file else f"{self.experiment} ({self.checkpoint} checkpoint)"
        picks = "".join(f", {k} {', '.join(v)}" for k, v in (("include", self.include), ("exclude", self.exclude)) if v)
        return src + picks


def init_spec(cfg: dict) -> InitSpec | None:
    """``init_from`` of a resolved experiment (a phase without one starts from its ``from``)."""
    raw = cfg.get("init_from")
    if raw is None:
        return InitSpec(experiment=cfg["from"]) if "from" in cfg else None
    if isinstance(raw, str):
        raw = {"experiment": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"init_from must be an experiment name or a mapping, got {raw!r}")
    raw = dict(raw)
    unknown = set(raw) - {f.name for f in fields(InitSpec)}
    if unknown:
        raise ValueError(f"init_from: unknown key(s) {', '.join(sorted(unknown))} "
                         f"(experiment, checkpoint, file, format, include, exclude, strict)")
    if "experiment" not in raw and "file" not in raw and "from" in cfg:
        raw["experiment"] = cfg["from"]
    if ("experiment" in raw) == ("file" in raw):
        raise ValueError("init_from needs exactly one of 'experiment' and 'file'")
    spec = InitSpec(**{**raw, "include": tuple(raw.get("include") or ()), "exclude": tuple(raw.get("exclude") or ())})
    if spec.checkpoint not in CHECKPOINTS:
        raise ValueError(f"init_from.checkpoint {spec.checkpoint!r} is not one of {', '.join(CHECKPOINTS)}")
    if spec.format not in FORMATS:
        raise ValueError(f"init_from.format {spec.format!r} is not one of {', '.join(FORMATS)}")
    return spec


def initialise(model: nn.Module, cfg: dict) -> LoadReport | None:
    """Load the experiment's ``init_from`` weights into ``model`` by name; None without one.

    Errors (a missing or unfinished source, a file of another format) name the file.
    """
    spec = init_spec(cfg)
    if spec is None:
        return None
    if spec.file:
        state, source = read_state(spec.path, spec.format), str(spec.path)
    else:
        ckpt = load_checkpoint(spec.path, spec.checkpoint)
        state, source = ckpt.state_dict, str(ckpt.path)
    target = model.net if isinstance(model, Residual2D) else model
    strict = bool(spec.file) if spec.strict is None else spec.strict
    return load_by_name(target, state, include=spec.include, exclude=spec.exclude, strict=strict, source=source)


def source_for(cfg: dict, params: dict, key: str = "input_2d") -> Source2D:
    """The 2D source the experiment trains on (``input_2d``) or is scored on (``eval_input_2d``)."""
    try:
        return Source2D.from_params(params, cfg[key])
    except KeyError as exc:
        raise ValueError(f"{key}: {exc.args[0]}") from None


def experiment_data(cfg: dict, params: dict, key: str = "input_2d", root: Path = Path(".")) -> PoseData:
    """The poses with the experiment's 2D source (``key``: ``input_2d`` or ``eval_input_2d``) as network
    input, its scores as a third channel under ``use_scores``; a clear error when the source's stage
    has not run or has no scores."""
    source = source_for(cfg, params, key)
    return PoseData(Path(root) / POSES_DIR, source.materialised(root), scores=bool(cfg.get("use_scores")))


def skeleton_for(cfg: dict) -> Skeleton:
    """The joints the experiment's model lifts (RS-Net: PoseAug's 16)."""
    return model_skeleton(cfg["model"], cfg)


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
    """The experiment's network: the strided twin to train a temporal model, the whole-sequence
    form to evaluate it (same weights, same state_dict); in the ``lcn`` normalisation x, y are
    predicted as a residual on the 2D input."""
    name = cfg["model"]
    params = model_params(name, cfg)
    if cfg.get("use_scores"):
        if "in_channels" not in hyperparameter_names(name, cfg):
            raise ValueError(f"model {name!r} takes no score channel (its constructor has no in_channels)")
        params["in_channels"] = 3
    if has_training_form(name, cfg):
        params["strided"] = training
    model = build_model(name, params)
    return Residual2D(model) if cfg.get("norm", "base") == "lcn" else model


def window_twin(cfg: dict, model: nn.Module) -> nn.Module:
    """``model``'s training form with its weights, in evaluation mode on its device: for single
    windows a temporal model's strided twin computes only the centre frame (the sweep's form)."""
    twin = build_experiment_model(cfg, training=True)
    twin.load_state_dict(model.state_dict())
    device = next(model.parameters()).device
    return twin.to(device).eval()


def trained_model(name: str, cfg: dict, which: str = "last") -> tuple[nn.Module, Checkpoint]:
    """The evaluation form of experiment ``name`` with the weights ``which`` names
    (:func:`pose3d.training.checkpoints.load_checkpoint`: a clear error when absent)."""
    checkpoint = load_checkpoint(MODELS_DIR / name, which)
    model = build_experiment_model(cfg, training=False)
    model.load_state_dict(checkpoint.state_dict)
    return model, checkpoint
