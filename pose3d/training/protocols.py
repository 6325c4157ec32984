"""Which (subject, action key, camera) views train and which test, for each protocol.

Actions are matched by their exact group (``Sitting`` is not ``SittingDown``); the two
sub-actions of an action merge because they share the group.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import partial

from pose3d.h36m.sequences import ACTION_GROUPS, action_group

View = tuple[str, str, int]  # subject, action key, camera index
PROTOCOLS = ("cross_subject", "cross_action", "cross_camera")


@dataclass(frozen=True)
class Split:
    """Training views, named test sets (each a list of views), and validation views held out
    from the training subjects (:mod:`pose3d.training.holdout`; empty until held out)."""

    train: list[View]
    tests: dict[str, list[View]]
    validation: list[View] = field(default_factory=list)
    #: the test set a headline number is read from (cross_action: the unseen actions)
    headline: str = "test"


def _views(available: dict[str, Iterable[str]], subjects: Iterable[str], cameras: Iterable[int], keep,
           drop: Collection[View] = frozenset()) -> list[View]:
    return [(s, k, c) for s in subjects for k in available.get(s, ()) if keep(k) for c in cameras
            if (s, k, c) not in drop]


def make_split(
    protocol: str,
    available: dict[str, Iterable[str]],
    train_subjects: list[str],
    test_subjects: list[str],
    train_action: str | None = None,
    train_cameras: list[int] | None = None,
    test_cameras: list[int] | None = None,
    excluded_views: Collection[View] | None = None,
) -> Split:
    """``available``: the action keys present per subject (the converted data).

    cross_subject: train subjects, all actions and cameras; test subjects likewise.
    cross_action: every subject, one action to train; tests 'unseen' (the 14 others) and 'all' (15).
    cross_camera: train subjects on ``train_cameras``; test subjects on ``test_cameras``.
    ``excluded_views``: views in no training or test set, e.g. a broken camera of one sequence
    (:func:`pose3d.h36m.sequences_csv.read_exclusions`, what convert excluded).
    """
    cams = [0, 1, 2, 3]
    views = partial(_views, drop=frozenset(excluded_views or ()))
    if protocol == "cross_subject":
        return Split(
            views(available, train_subjects, cams, lambda k: True),
            {"test": views(available, test_subjects, cams, lambda k: True)},
        )
    if protocol == "cross_action":
        if train_action not in ACTION_GROUPS:
            raise ValueError(f"cross_action needs train_action, one of {', '.join(ACTION_GROUPS)}; got {train_action!r}")
        everyone = list(dict.fromkeys([*train_subjects, *test_subjects]))
        return Split(
            views(available, everyone, cams, lambda k: action_group(k) == train_action),
            {
                "unseen": views(available, everyone, cams, lambda k: action_group(k) != train_action),
                "all": views(available, everyone, cams, lambda k: True),
            },
            headline="unseen",
        )
    if protocol == "cross_camera":
        if not train_cameras or not test_cameras:
            raise ValueError("cross_camera needs train_cameras and test_cameras (integer camera indices 0..3)")
        for c in [*train_cameras, *test_cameras]:
            if not isinstance(c, int) or not 0 <= c <= 3:
                raise ValueError(f"camera indices must be integers 0..3, got {c!r}")
        return Split(
            views(available, train_subjects, train_cameras, lambda k: True),
            {"test": views(available, test_subjects, test_cameras, lambda k: True)},
        )
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
