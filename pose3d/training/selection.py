"""Parts of a network picked by name patterns: what ``freeze`` holds still and which BatchNorm
layers follow the momentum schedule (``bn_schedule``; RIE decays only its local encoders').

Patterns are ``fnmatch`` patterns over ``named_parameters`` / ``named_modules`` names
(``local_encoders.*``). A pattern that matches nothing is an error: a typo must not silently
train everything.
"""
from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from torch import nn


def matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def _check_used(patterns: Sequence[str], names: list[str], what: str) -> None:
    for p in patterns:
        if not any(fnmatchcase(n, p) for n in names):
            raise ValueError(f"{what} pattern {p!r} matches no name of the model (e.g. {', '.join(names[:3])})")


def freeze(model: nn.Module, patterns: Sequence[str]) -> list[str]:
    """Set ``requires_grad=False`` on the parameters ``patterns`` name; returns their names.

    Their BatchNorm running statistics still follow the batches in training mode, as RIE's
    stage 2 does with its frozen encoders.
    """
    names = [n for n, _ in model.named_parameters()]
    _check_used(patterns, names, "freeze")
    frozen = []
    for name, p in model.named_parameters():
        if matches(name, patterns):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def batchnorms(model: nn.Module, patterns: Sequence[str] = ("*",)) -> list[nn.Module]:
    """The BatchNorm layers whose module names ``patterns`` match."""
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    _check_used(patterns, [n for n, _ in named] or ["<no BatchNorm>"], "bn_schedule")
    return [m for n, m in named if matches(n, patterns)]
