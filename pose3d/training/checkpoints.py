"""Which trained weights are scored: the last epoch (as VideoPose3D evaluates) or the epoch with
the lowest error on the held-out validation views of the training subjects.

Never an epoch chosen on the test set: ``best.pt`` is written by the training loop from
validation data only (:mod:`pose3d.training.holdout`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

CHECKPOINTS = ("last", "best")


@dataclass(frozen=True)
class Checkpoint:
    which: str  # last | best
    path: Path
    epoch: int  # epochs of training behind the weights
    epochs: int  # epochs of the whole run
    state_dict: dict

    def describe(self) -> str:
        if self.which == "last":
            return f"last epoch ({self.epoch} of {self.epochs})"
        return f"best on validation (epoch {self.epoch} of {self.epochs})"


def load_checkpoint(models_dir: Path | str, which: str = "last") -> Checkpoint:
    """The weights ``which`` names from a finished run in ``models_dir``; a clear error naming the
    file when it is absent or the run did not finish."""
    if which not in CHECKPOINTS:
        raise ValueError(f"checkpoint {which!r} is not one of {', '.join(CHECKPOINTS)}")
    models_dir = Path(models_dir)
    latest = models_dir / "latest.pt"
    if not latest.is_file():
        raise FileNotFoundError(f"{latest}: no trained model")
    state = torch.load(latest, map_location="cpu", weights_only=False)
    done, epochs = int(state["history"]["epoch"]), int(state["config"]["epochs"])
    if done < epochs:
        raise ValueError(f"{latest}: training stopped after epoch {done} of {epochs}; run the train stage again")
    if which == "last":
        return Checkpoint("last", latest, done, epochs, state["model"])
    best = models_dir / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: no best checkpoint")
    chosen = torch.load(best, map_location="cpu", weights_only=False)
    return Checkpoint("best", best, int(chosen["epoch"]), epochs, chosen["model"])
