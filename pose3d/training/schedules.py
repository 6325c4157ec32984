"""Learning rate per epoch: the seeds' schedules as one function of the epoch index.

- ``exponential`` (VideoPose3D, SRNet, RIE): ``lr * lr_decay ** epoch``.
- ``rsnet`` (RS-Net with ground-truth 2D): after every epoch x``lr_decay``, except after every
  ``large_decay_epoch``-th epoch x``lr_decay_large`` instead (its epochs count from 1).
- ``step``: x``gamma`` every ``step_size`` epochs (RS-Net with detected 2D: x0.9 every 4th).
- ``multistep``: x``gamma`` at each of ``milestones`` (Integral: 1e-3, x0.1 at epochs 14 and 16).

The rate is computed from the epoch, never accumulated, so a resumed run uses the same rates.
"""
from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("exponential", "rsnet", "step", "multistep")


@dataclass(frozen=True)
class Schedule:
    name: str = "exponential"
    lr: float = 0.001
    lr_decay: float = 0.95
    lr_decay_large: float = 0.5
    large_decay_epoch: int = 5
    step_size: int = 1
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()

    def __post_init__(self):
        if self.name not in SCHEDULES:
            raise ValueError(f"schedule {self.name!r} is not one of {', '.join(SCHEDULES)}")
        if self.name == "rsnet" and self.large_decay_epoch < 1:
            raise ValueError(f"large_decay_epoch must be >= 1, got {self.large_decay_epoch}")
        if self.name == "step" and self.step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {self.step_size}")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch``."""
        if self.name == "exponential":
            return self.lr * self.lr_decay ** epoch
        if self.name == "rsnet":
            large = epoch // self.large_decay_epoch  # completed epochs 1..epoch that were multiples
            return self.lr * self.lr_decay_large ** large * self.lr_decay ** (epoch - large)
        if self.name == "step":
            return self.lr * self.gamma ** (epoch // self.step_size)
        return self.lr * self.gamma ** sum(1 for m in self.milestones if epoch >= m)
