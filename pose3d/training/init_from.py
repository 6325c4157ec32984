"""Start training from other weights: another run's checkpoint or a seed repository's own file.

Tensors are matched BY NAME (and shape) and every difference is reported, so a published
checkpoint either reproduces the published model here or says exactly what did not fit.

Formats (what ``torch.save`` wrote, and how its names become ours):

- ``pose3d``: this project's ``latest.pt`` / ``best.pt`` (the state dict under ``"model"``); a bare
  state dict is accepted too.  Names are ours already.
- ``videopose3d``: VideoPose3D's ``.bin`` files (``model_pos`` beside ``epoch``, ``lr``,
  ``optimizer``, ``random_state``, ``model_traj``).  :class:`~pose3d.models.VideoPose3D` keeps the
  original attribute names, so the mapping is the identity.
- ``rie``: RIE's ``.bin`` files (``model_pos``, ``epoch``, ``lr``, ``optimizer``, ``random_state``);
  :mod:`pose3d.models.rie` keeps the original attribute names: the identity again.
- ``srnet``: SRNet's ``.bin`` files (the same keys plus logged losses).  Its ``--model fc`` networks
  use VideoPose3D's names (identity); its split-recombine networks are renamed by
  :data:`SRNET_RENAMES`.  Files whose computation has no counterpart here are refused rather than
  half-loaded: split 'all', 'concat' with temporal kernels, and its ablation switches.

A ``module.`` prefix (``nn.DataParallel``) is removed in every format.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import torch
from torch import nn

FORMATS = ("pose3d", "videopose3d", "srnet", "rie")
SEED_KEY = "model_pos"  # where the three seed repositories store the pose model's state dict
DATA_PARALLEL = "module."
_SHOWN = 3  # names listed per kind in LoadReport.describe()

#: SRNet's split-recombine layer names -> pose3d.models.srnet names; anything else keeps its name.
#: ``FlexGroupLayer`` holds ``group_conv.<g>`` and, for split 'others', ``get_part_info`` with the
#: gate convolutions ``m_conv.<g>`` and (recombine 'multiply') their ``layers_bn.<g>``; ours holds
#: ``group_convs.<g>`` and ``gates.<g>`` (weight, bias, bn).  The output layer is ``final_layer``.
SRNET_RENAMES = (
    (re.compile(r"^final_layer\."), "shrink."),
    (re.compile(r"\.group_conv\.(\d+)\."), r".group_convs.\1."),
    (re.compile(r"\.get_part_info\.m_conv\.(\d+)\."), r".gates.\1."),
    (re.compile(r"\.get_part_info\.layers_bn\.(\d+)\."), r".gates.\1.bn."),
)
# every name an SRNet file may hold once renamed: split-recombine layers, batch norms, and the dense
# layers of its fc baseline
_SRNET_NAMES = re.compile(
    r"^(?:(?:expand_conv|layers_conv\.\d+|shrink)\.(?:group_convs\.\d+\.weight|gates\.\d+\.(?:weight|bias|bn\.\w+))"
    r"|(?:expand_bn|layers_bn\.\d+)\.\w+"
    r"|(?:expand_conv|layers_conv\.\d+)\.weight|shrink\.(?:weight|bias))$")
_GATE_WEIGHT = re.compile(r"\.gates\.\d+\.weight$")


def _load(path: Path) -> object:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any refusal of the safe loader; the full one decides below
        pass
    # The seeds pickle their batch generator's numpy random state (and our latest.pt may hold other
    # Python objects), which the weights-only loader refuses; only open files you trust.
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - whatever the unpickler raises, the file is unusable
        raise ValueError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _is_state(obj: object) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _keys(obj: object) -> str:
    return ", ".join(map(repr, list(obj)[:8])) if isinstance(obj, Mapping) else type(obj).__name__


def _model_state(obj: object, path: Path, format: str) -> Mapping:
    key = "model" if format == "pose3d" else SEED_KEY
    if format == "pose3d" and _is_state(obj):
        return obj
    if not isinstance(obj, Mapping) or key not in obj:
        hint = ""
        if format == "pose3d" and isinstance(obj, Mapping) and SEED_KEY in obj:
            hint = f"; it has {SEED_KEY!r}: a seed repository's file (format one of {', '.join(FORMATS[1:])})"
        raise ValueError(f"{path}: no {key!r} entry for format {format!r} (found {_keys(obj)}){hint}")
    state = obj[key]
    if not _is_state(state):
        raise ValueError(f"{path}: {key!r} is not a state dict of named tensors")
    return state


def _strip(state: Mapping, prefix: str) -> dict:
    if all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def srnet_names(state: Mapping, path: Path | str = "") -> dict:
    """An SRNet state dict in pose3d.models.srnet / fc names; ValueError for tensors with no counterpart."""
    if any(".get_all_info." in k for k in state):
        raise ValueError(
            f"{path}: SRNet with split 'all' has no counterpart here: its gates read the raw 2D input "
            f"(34 channels in the first layer, ours the 42 with the root copied per group) and 'multiply' "
            f"has no gate batch norm; tensors: {', '.join(k for k in state if '.get_all_info.' in k)}")
    out, unknown = {}, []
    for name, value in state.items():
        new = name
        for pattern, repl in SRNET_RENAMES:
            new = pattern.sub(repl, new)
        if _GATE_WEIGHT.search(new) and value.numel() == 0:
            continue  # a one-group gate reads no other channels: the seed keeps an empty weight, we keep none
        if not _SRNET_NAMES.match(new):
            unknown.append(name)
        out[new] = value
    if unknown:
        raise ValueError(f"{path}: SRNet tensors with no counterpart in pose3d's SRNet (an ablation "
                         f"this project does not build?): {', '.join(unknown)}")
    _refuse_temporal_concat(out, path)
    return out


def _refuse_temporal_concat(state: Mapping, path: Path | str) -> None:
    """SRNet's 'concat' lays its (taps x frames) gate map out by a plain reshape, not a transpose, so
    with kernels wider than 1 each frame reads other frames' gates; ours reads its own.  The tensors
    would load and the numbers differ, so such files are refused.  (SRNet's concat configuration
    is single-frame, where both agree.)  Concat shows as one extra input channel per group in the
    first hidden layer."""
    convs = [v for k, v in state.items() if re.fullmatch(r"layers_conv\.0\.group_convs\.\d+\.weight", k)]
    width = state.get("expand_bn.weight")
    if not convs or width is None or max(w.shape[2] for w in convs) == 1:
        return
    if sum(w.shape[1] for w in convs) == width.shape[0] + len(convs):
        raise ValueError(f"{path}: SRNet 'concat' with temporal kernel {convs[0].shape[2]} computes its gates "
                         "differently from pose3d's SRNet (only kernel 1 agrees); not loaded")


def read_state(path: Path | str, format: str = "pose3d") -> dict[str, torch.Tensor]:
    """The model state dict inside a checkpoint file, in our modules' names (see the module doc)."""
    path = Path(path)
    if format not in FORMATS:
        raise ValueError(f"{path}: unknown checkpoint format {format!r}; known: {', '.join(FORMATS)}")
    state = _strip(_model_state(_load(path), path, format), DATA_PARALLEL)
    return srnet_names(state, path) if format == "srnet" else state


@dataclass(frozen=True)
class LoadReport:
    loaded: tuple[str, ...]
    missing: tuple[str, ...]  # our tensors (within the patterns) not in the file: left as initialised
    unexpected: tuple[str, ...]  # file tensors with no name in our model
    mismatched: tuple[tuple[str, tuple, tuple], ...]  # (name, file shape, our shape)
    skipped: tuple[str, ...]  # file tensors excluded by the include / exclude patterns
    source: str = ""
    note: str = ""  # how names were aligned when a wrapper prefix differed

    @property
    def complete(self) -> bool:
        """Every selected tensor of the file and of the model was matched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """One line: counts and the first few names of each kind."""
        def few(names) -> str:
            names = list(names)
            more = f", +{len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
            return ", ".join(names[:_SHOWN]) + more

        parts = [f"loaded {len(self.loaded)} tensors" + (f" from {self.source}" if self.source else "")]
        for label, names in (("missing", self.missing), ("unexpected", self.unexpected), ("skipped", self.skipped)):
            if names:
                parts.append(f"{len(names)} {label} ({few(names)})")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} shape mismatches ("
                         + few(f"{n} file {list(a)} vs ours {list(b)}" for n, a, b in self.mismatched) + ")")
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)


def _wrapper(names) -> str:
    """The prefix every name shares when a module wraps a single network (``net.`` of Residual2D)."""
    firsts = {n.split(".", 1)[0] for n in names}
    return next(iter(firsts)) + "." if len(firsts) == 1 and all("." in n for n in names) else ""


def _align(state: Mapping, own: Mapping) -> tuple[dict, str]:
    """Add or drop one wrapper prefix when the file and the model share no name at all.

    A plain network and the same network inside a wrapper (the ``lcn`` head) differ only by it.
    """
    if not state or not own or set(state) & set(own):
        return dict(state), ""
    theirs, ours = _wrapper(state), _wrapper(own)
    for drop, add in ((theirs, ours), ("", ours), (theirs, "")):
        if drop == add or not all(k.startswith(drop) for k in state):
            continue
        renamed = {add + k[len(drop):]: v for k, v in state.items()}
        if set(renamed) & set(own):
            changes = ([f"{drop!r} dropped"] if drop else []) + ([f"{add!r} added"] if add else [])
            return renamed, f"file names aligned to the model ({' and '.join(changes)})"
    return dict(state), ""


def _selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return (not include or any(fnmatchcase(name, p) for p in include)) and not any(
        fnmatchcase(name, p) for p in exclude)


def load_by_name(model: nn.Module, state: Mapping[str, torch.Tensor], include: Sequence[str] = (),
                 exclude: Sequence[str] = (), strict: bool = False, source: str = "") -> LoadReport:
    """Copy every tensor of ``state`` whose name exists in ``model.state_dict()`` with the same shape.

    ``include`` / ``exclude`` are fnmatch patterns on our model's names (default: all, minus none);
    our tensors outside them are neither loaded nor reported missing.  ``strict``: raise ValueError
    naming ``source`` and every tensor that does not fit (missing, unexpected, both shapes of a
    mismatch) and load nothing; otherwise load what fits and report the rest.
    """
    if isinstance(include, str) or isinstance(exclude, str):
        raise TypeError("include and exclude are sequences of patterns, not one string")
    own = model.state_dict()
    state, note = _align(state, own)
    chosen = {k: v for k, v in state.items() if _selected(k, include, exclude)}
    report = LoadReport(
        loaded=tuple(k for k, v in chosen.items() if k in own and v.shape == own[k].shape),
        missing=tuple(k for k in own if k not in state and _selected(k, include, exclude)),
        unexpected=tuple(k for k in chosen if k not in own),
        mismatched=tuple((k, tuple(v.shape), tuple(own[k].shape)) for k, v in chosen.items()
                         if k in own and v.shape != own[k].shape),
        skipped=tuple(k for k in state if k not in chosen),
        source=source,
        note=note,
    )
    if strict and not report.complete:
        problems = [f"missing {k}" for k in report.missing] + [f"unexpected {k}" for k in report.unexpected]
        problems += [f"{k}: file {list(a)} vs ours {list(b)}" for k, a, b in report.mismatched]
        raise ValueError(f"{source or 'state dict'} does not fit the model ({len(problems)} tensors): "
                         + "; ".join(problems))
    model.load_state_dict({k: chosen[k] for k in report.loaded}, strict=False)
    return report


def init_from(model: nn.Module, path: Path | str, format: str = "pose3d", include: Sequence[str] = (),
              exclude: Sequence[str] = (), strict: bool = False) -> LoadReport:
    """``read_state`` then ``load_by_name``: the weights of ``path`` copied into ``model``."""
    return load_by_name(model, read_state(path, format), include, exclude, strict, source=str(path))
