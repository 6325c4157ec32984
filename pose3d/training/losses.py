"""Training losses of the lifting seeds, on (..., J, 3) tensors, and their weighted sums.

VideoPose3D, RIE: MPJPE; SRNet: L1 on the normalised target; SimpleBaseline: MSE;
RS-Net: 0.9 MSE + 0.1 L1, plus MPJPE and a bone symmetry term on its post-refined output.
``weighted_mpjpe`` is VideoPose3D's per-joint weighted form (its trajectory model weights by 1/depth).

An experiment's ``loss`` is one name (``mpjpe``) or a mapping of terms to weights, a term being
``<loss>`` on the model's final output or ``<output>.<loss>`` on another of its outputs
(``{coarse.mse: 0.9, coarse.l1: 0.1, mpjpe: 1.0, symmetry: 0.01}``: RS-Net with post-refinement).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from pose3d.h36m.skeleton import H36M17, Skeleton

#: the output every model has: the prediction that is evaluated
FINAL = "pose"


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance per joint, over every joint, frame and sample."""
    _check(pred, target)
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``weights`` (broadcast to (..., J)) times each joint's Euclidean distance."""
    _check(pred, target)
    return (weights * torch.linalg.vector_norm(pred - target, dim=-1)).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute coordinate error (SRNet): over coordinates, joints, frames and samples."""
    _check(pred, target)
    return (pred - target).abs().mean()


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared coordinate error (SimpleBaseline; RS-Net's main term)."""
    _check(pred, target)
    return ((pred - target) ** 2).mean()


def symmetric_bones(skeleton: Skeleton) -> tuple[tuple[int, int], ...]:
    """(left joint, right joint) pairs whose bones to their parents mirror each other."""
    return tuple(zip(skeleton.joints_left, skeleton.joints_right))


def bone_symmetry(pred: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Mean absolute difference between the lengths of mirrored bones (left vs right).

    RS-Net's paper penalises the absolute difference; its code sums the signed difference,
    which a network can drive negative without limit, so the absolute form is used here.
    """
    if pred.shape[-2] != len(skeleton.parents):
        raise ValueError(f"symmetry on {skeleton.name} needs {len(skeleton.parents)} joints, got {pred.shape[-2]}")
    pairs = symmetric_bones(skeleton)
    left = torch.tensor([p[0] for p in pairs], device=pred.device)
    right = torch.tensor([p[1] for p in pairs], device=pred.device)
    parents = torch.tensor(skeleton.parents, device=pred.device)
    length = torch.linalg.vector_norm(pred - pred[..., parents.clamp(min=0), :], dim=-1)
    return (length[..., left] - length[..., right]).abs().mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mpjpe": mpjpe_loss,
    "l1": l1_loss,
    "mse": mse_loss,
}
#: terms on the prediction alone (no target)
PRIORS = ("symmetry",)


def get_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss by its config name (``mpjpe``, ``l1``, ``mse``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


def loss_terms(spec: str | Mapping[str, float]) -> dict[tuple[str, str], float]:
    """``loss`` of an experiment as {(output, loss name): weight}; an unknown name is a ValueError."""
    if isinstance(spec, str):
        spec = {spec: 1.0}
    if not isinstance(spec, Mapping) or not spec:
        raise ValueError(f"loss must be a name or a mapping of terms to weights, got {spec!r}")
    terms = {}
    for term, weight in spec.items():
        output, _, name = str(term).rpartition(".")
        if name not in LOSSES and name not in PRIORS:
            raise ValueError(f"loss term {term!r}: unknown loss {name!r}; choose from {', '.join([*LOSSES, *PRIORS])}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"loss term {term!r}: weight {weight!r} is not a number")
        key = (output or FINAL, name)
        if key in terms:
            raise ValueError(f"loss term {term!r} is given twice ({key[0]}.{name})")
        terms[key] = float(weight)
    return terms


class CompositeLoss:
    """The weighted sum of an experiment's loss terms over a model's named outputs."""

    def __init__(self, spec: str | Mapping[str, float], skeleton: Skeleton = H36M17):
        self.terms = loss_terms(spec)
        self.skeleton = skeleton

    @property
    def outputs(self) -> set[str]:
        return {output for output, _ in self.terms}

    def __call__(self, outputs: Mapping[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        total = None
        for (output, name), weight in self.terms.items():
            if output not in outputs:
                raise ValueError(f"loss term {output}.{name}: the model has no output {output!r} "
                                 f"(it has {', '.join(outputs)})")
            pred = outputs[output].float()
            value = bone_symmetry(pred, self.skeleton) if name == "symmetry" else LOSSES[name](pred, target)
            total = weight * value if total is None else total + weight * value
        return total
