"""Exact batch-norm statistics for the current weights ("precise BN").

BatchNorm's running mean and variance are an exponential average over past batches, taken
while the weights were changing. The seeds decay its momentum over ~100k steps, by which time
the average is current. A short run (a few hundred steps on a CPU) ends with statistics of
older weights, and the evaluation-mode network scores far worse than the trained one.
Recomputing them with the final weights over a few training batches removes the lag.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, inputs: Iterable[torch.Tensor | tuple[torch.Tensor, dict]]) -> int:
    """Replace every BatchNorm's running statistics by their plain average over ``inputs``
    (input tensors, or (input, keyword inputs) pairs for models that take more).

    Runs the model in training mode without gradients; momenta are restored afterwards.
    Returns the number of batches used (0: the model has no BatchNorm, nothing ran).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    was_training = model.training
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    model.train()
    used = 0
    for x in inputs:
        x, extra = x if isinstance(x, tuple) else (x, {})
        model(x, **extra)
        used += 1
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    model.train(was_training)
    return used
