"""Build any lifting network from its name and a plain dict of hyper-parameters.

A model's hyper-parameters are the keyword arguments of its constructor, so defaults live in one
place.  ``params`` may be a whole experiment entry (training and protocol keys beside the model's):
keys that no model knows are left to others, but a key that belongs to another model (``groups``
on videopose) or is one edit away from one of this model's names (``group``) is an error, so a
typo in params.yaml cannot silently train the default.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Mapping

from torch import nn

from .fc import SimpleBaseline, srnet_fc
from .srnet import SRNet
from .videopose import VideoPose3D

FC_VARIANTS: dict[str, Callable[..., nn.Module]] = {"simplebaseline": SimpleBaseline, "srnet": srnet_fc}
MODELS: dict[str, Callable[..., nn.Module]] = {"fc": SimpleBaseline, "videopose": VideoPose3D, "srnet": SRNet}
_JOINT_ARGS = ("num_joints_in", "num_joints_out")
_NEAR_MISS = 0.88  # difflib ratio: catches group/groups, chanels/channels; not bn_momentum_end/bn_momentum


def _keys(factory: Callable[..., nn.Module]) -> set[str]:
    return set(inspect.signature(factory).parameters) - set(_JOINT_ARGS)


def _all_keys() -> set[str]:
    return set.union(*map(_keys, [*MODELS.values(), *FC_VARIANTS.values()]), {"variant"})


def _factory(name: str, params: Mapping[str, Any]) -> Callable[..., nn.Module]:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
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


def build_model(name: str, params: Mapping[str, Any] | None = None, num_joints_in: int = 17,
                num_joints_out: int = 17) -> nn.Module:
    """'fc' (``variant``: 'simplebaseline' | 'srnet'), 'videopose' or 'srnet', from hyper-parameters.

    Raises ValueError naming the model, key or value at fault.
    """
    params = dict(params or {})
    factory = _factory(name, params)
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


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (each shared tensor once); BN running statistics are not parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
