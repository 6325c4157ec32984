"""Build any lifting network from its name and a plain dict of hyper-parameters.

Adding a model is its file and one line in ``MODELS``; a model outside the project needs no line:
``model: package.module:ClassName`` names it by import path. What the pipeline needs to know about
a model it reads from the model itself: its skeleton from the default of ``num_joints_in`` (17:
Human3.6M's, 16: PoseAug's), a training twin from a ``strided`` argument, a camera condition from
a ``camera`` argument of ``forward``, named outputs from an ``outputs`` argument of ``forward``
(``outputs=True`` returns {name: tensor}, the evaluated one under ``pose``).

A model's hyper-parameters are the keyword arguments of its constructor, so defaults live in one
place.  ``params`` may be a whole experiment entry (training and protocol keys beside the model's):
keys that no model knows are left to others, but a key that belongs to another model (``groups``
on videopose) or is one edit away from one of this model's names (``group``) is an error, so a
typo in params.yaml cannot silently train the default.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable, Mapping

from torch import nn

from ..h36m.skeleton import H36M16, H36M17, Skeleton
from .fc import SimpleBaseline, srnet_fc
from .rie import RIE
from .rsnet import RSNet
from .srnet import SRNet
from .videopose import VideoPose3D

FC_VARIANTS: dict[str, Callable[..., nn.Module]] = {"simplebaseline": SimpleBaseline, "srnet": srnet_fc}
MODELS: dict[str, Callable[..., nn.Module]] = {
    "fc": SimpleBaseline,
    "videopose": VideoPose3D,
    "srnet": SRNet,
    "rie": RIE,
    "rsnet": RSNet,
}
SKELETONS_BY_JOINTS: dict[int, Skeleton] = {17: H36M17, 16: H36M16}
_JOINT_ARGS = ("num_joints_in", "num_joints_out")
_NEAR_MISS = 0.88  # difflib ratio: catches group/groups, chanels/channels; not bn_momentum_end/bn_momentum


def _keys(factory: Callable[..., nn.Module]) -> set[str]:
    return set(inspect.signature(factory).parameters) - set(_JOINT_ARGS)


def _all_keys() -> set[str]:
    return set.union(*map(_keys, [*MODELS.values(), *FC_VARIANTS.values()]), {"variant"})


def _import(path: str) -> Callable[..., nn.Module]:
    """``package.module:Name`` -> that object (a model defined outside the project)."""
    module, _, attr = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"model {path!r}: cannot import it ({exc})") from None
    if not callable(factory):
        raise ValueError(f"model {path!r} is not a class or function")
    return factory


def _factory(name: str, params: Mapping[str, Any]) -> Callable[..., nn.Module]:
    if ":" in str(name):
        return _import(name)
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)} (or package.module:Class)")
    if name != "fc":
        return MODELS[name]
    variant = params.get("variant", "simplebaseline")
    if variant not in FC_VARIANTS:
        raise ValueError(f"fc variant={variant!r} is not one of {sorted(FC_VARIANTS)}")
    return FC_VARIANTS[variant]


def hyperparameter_names(name: str, config: Mapping[str, Any] | None = None) -> set[str]:
    """Every hyper-parameter ``name`` takes (for ``fc``, of the variant ``config`` selects)."""
    return _keys(_factory(name, config or {})) | ({"variant"} if name == "fc" else set())


def model_params(name: str, config: Mapping[str, Any]) -> dict:
    """The entries of ``config`` (e.g. a whole experiment) that are hyper-parameters of ``name``."""
    known = hyperparameter_names(name, config)
    return {k: v for k, v in config.items() if k in known}


def model_skeleton(name: str, params: Mapping[str, Any] | None = None) -> Skeleton:
    """The joints ``name`` lifts: from the default of its ``num_joints_in`` (17 when it has none)."""
    default = inspect.signature(_factory(name, params or {})).parameters.get("num_joints_in")
    joints = 17 if default is None or default.default is inspect.Parameter.empty else int(default.default)
    if joints not in SKELETONS_BY_JOINTS:
        raise ValueError(f"model {name!r}: no skeleton of {joints} joints (have {sorted(SKELETONS_BY_JOINTS)})")
    return SKELETONS_BY_JOINTS[joints]


def has_training_form(name: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether ``name`` has a strided training twin (a ``strided`` constructor argument)."""
    return "strided" in inspect.signature(_factory(name, params or {})).parameters


def build_model(name: str, params: Mapping[str, Any] | None = None, num_joints_in: int | None = None,
                num_joints_out: int | None = None) -> nn.Module:
    """A registered model (``fc`` with ``variant`` 'simplebaseline' | 'srnet', ``videopose``, ``srnet``,
    ``rie``, ``rsnet``) or ``package.module:Class``, from hyper-parameters; joint counts default to
    the model's skeleton.

    Raises ValueError naming the model, key or value at fault.
    """
    params = dict(params or {})
    factory = _factory(name, params)
    joints = len(model_skeleton(name, params).parents)
    num_joints_in = joints if num_joints_in is None else num_joints_in
    num_joints_out = joints if num_joints_out is None else num_joints_out
    own = _keys(factory)
    label = f"{name} ({params['variant']})" if "variant" in params else name
    for key in sorted(set(params) - own - {"variant"}):
        if key in _all_keys():
            raise ValueError(f"{label}: {key!r} is not a hyper-parameter of this model; it takes {sorted(own)}")
        close = difflib.get_close_matches(key, own, n=1, cutoff=_NEAR_MISS)
        if close:
            raise ValueError(f"{label}: unknown key {key!r}; did you mean {close[0]!r}?")
    kwargs = {k: v for k, v in params.items() if k in own}
    return factory(num_joints_in=num_joints_in, num_joints_out=num_joints_out, **kwargs)


def evaluation_form(model: nn.Module) -> nn.Module:
    """The model set to run dilated over whole sequences (same weights; single-frame models as is)."""
    if hasattr(model, "strided"):
        model.strided = False
    return model


def training_form(model: nn.Module) -> nn.Module:
    """The model set to run strided over one receptive field per example (the cheap training twin)."""
    if hasattr(model, "strided"):
        model.strided = True
    return model


def _forward_takes(model: nn.Module, arg: str) -> bool:
    inner = getattr(model, "wrapped", model)  # a wrapper (Residual2D) passes keywords through to it
    return arg in inspect.signature(inner.forward).parameters


def takes_camera(model: nn.Module) -> bool:
    """Whether the model takes a per-example camera condition (RS-Net's post-refinement)."""
    return _forward_takes(model, "camera")


def has_named_outputs(model: nn.Module) -> bool:
    """Whether ``model(x, outputs=True)`` returns its intermediate outputs by name."""
    return _forward_takes(model, "outputs")


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (each shared tensor once); BN running statistics are not parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
