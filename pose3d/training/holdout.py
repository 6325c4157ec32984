"""Validation views held out from the training subjects, so that no choice made during
training (the best epoch, early signs of divergence) ever reads a test subject.

Human3.6M records every action of a subject twice (two sub-actions, e.g. ``Walking`` and
``Walking 1``). The later sub-action of each action of the validation subjects (by default the
last training subject) leaves the training set and becomes the validation set: every action
is represented, and the pose sequences validated on were never trained on.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from pose3d.h36m.sequences import action_group
from pose3d.training.protocols import Split, View


def validation_subjects(requested: list[str] | None, train_subjects: list[str]) -> list[str]:
    """``requested`` (each must be a training subject), or the last training subject when None."""
    if not train_subjects:
        raise ValueError("no training subjects: dataset.train_subjects is empty")
    if requested is None:
        return [train_subjects[-1]]
    if isinstance(requested, str) or not requested:
        raise ValueError(f"val_subjects must be a list of training subjects or null, got {requested!r}")
    strangers = [s for s in requested if s not in train_subjects]
    if strangers:
        raise ValueError(f"val_subjects {strangers} are not training subjects ({', '.join(train_subjects)}): "
                         "validation must never read a test subject")
    return list(requested)


def held_out_keys(train: list[View], subjects: list[str]) -> set[tuple[str, str]]:
    """(subject, action key) of the later sub-action of each action of ``subjects`` among ``train``."""
    keys: dict[tuple[str, str], list[str]] = {}
    for subject, key, _ in train:
        if subject in subjects:
            group = keys.setdefault((subject, action_group(key)), [])
            if key not in group:
                group.append(key)
    return {(subject, sorted(group)[-1]) for (subject, _), group in keys.items() if len(group) > 1}


def hold_out_validation(split: Split, subjects: list[str]) -> Split:
    """``split`` with the later sub-action of each action of ``subjects`` moved from training to
    validation. An action recorded once for a subject stays in training."""
    held = held_out_keys(split.train, subjects)
    validation = [v for v in split.train if (v[0], v[1]) in held]
    if not validation:
        raise ValueError(f"no validation views: the training views of {', '.join(subjects)} have no action "
                         "with two sub-actions to hold out")
    train = [v for v in split.train if (v[0], v[1]) not in held]
    tested = {(s, k) for s, k, _ in split.tests[split.headline]}
    leaked = sorted({(s, k) for s, k, _ in validation} & tested)
    if leaked:
        raise ValueError(f"validation sequences {leaked[:3]} are also in the {split.headline!r} test set")
    return replace(split, train=train, validation=validation)


def describe(split: Split, subjects: list[str]) -> str:
    """One line for logs, eval.json and the report: what the best checkpoint was chosen on."""
    sequences = sorted({(s, k) for s, k, _ in split.validation})
    return (f"held-out validation: the later sub-action of each action of {', '.join(subjects)} "
            f"({len(sequences)} sequences, {len(split.validation)} views), never a test subject")


def held_out_rows(subject, key, train_subjects: list[str], val_subjects: list[str] | None,
                  max_rows: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows of per-example ``subject`` / ``key`` arrays: (training mask, validation mask, validation subjects).

    The validation rows are the later sub-actions of the validation subjects, thinned evenly to at
    most ``max_rows``; the training rows are every other row (the thinned-out ones never train).
    """
    subjects = validation_subjects(list(val_subjects) if val_subjects else None, train_subjects)
    held = held_out_keys(sorted({(str(s), str(k), 0) for s, k in zip(subject, key)}), subjects)
    is_val = np.array([(str(s), str(k)) in held for s, k in zip(subject, key)], dtype=bool)
    if not is_val.any():
        raise ValueError(f"no validation examples: {', '.join(subjects)} have no action with two sub-actions")
    val = np.flatnonzero(is_val)
    val = val[np.linspace(0, len(val) - 1, min(max_rows, len(val))).round().astype(int)]
    keep = np.zeros(len(is_val), dtype=bool)
    keep[val] = True
    return ~is_val, keep, subjects
