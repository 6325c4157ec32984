"""Human3.6M-like 3D motion for the synthetic stand-in: the public API.

:func:`generate_sequence` runs the recipe of an action (:mod:`pose3d.synth.actions`) on a
:class:`~pose3d.synth.builder.Builder`, then puts the result on the subject's skeleton,
stands it on the floor and places it in the capture area (:func:`pose3d.synth.paths.place`).
"""
from __future__ import annotations

import numpy as np

from pose3d.synth import bodies
from pose3d.synth.actions import RECIPES
from pose3d.synth.builder import Builder
from pose3d.synth.paths import place

ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
    "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
    "WalkTogether",
)


def _subject_number(subject: str) -> int:
    return int(subject[1:])


def generate_sequence(subject: str, action: str, subaction: int, n_frames: int, seed: int = 0) -> np.ndarray:
    """(n_frames, 32, 3) float64, Human3.6M world coordinates in millimetres at 50 Hz.

    Deterministic in (seed, subject, action, subaction); the subject sets the bone lengths.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if subject not in bodies.SUBJECTS:
        raise ValueError(f"unknown subject {subject!r}; expected one of {', '.join(bodies.SUBJECTS)}")
    if isinstance(subaction, bool) or not isinstance(subaction, (int, np.integer)) or subaction < 1:
        raise ValueError(f"subaction must be a positive integer, got {subaction!r}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    body = bodies.body(subject)
    builder = Builder(body, (int(seed), _subject_number(subject), ACTIONS.index(action), int(subaction)),
                      int(n_frames))
    RECIPES[action](builder)
    while not builder.done:
        builder.stand(builder.seconds(2.0, 4.0))
    return place(*builder.compose(), body)[: int(n_frames)]
