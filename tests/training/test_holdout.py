"""Validation views come from the training subjects only; the headline test set of each protocol."""
from __future__ import annotations

import pytest
import torch

from pose3d.training.checkpoints import load_checkpoint
from pose3d.training.holdout import describe, hold_out_validation, validation_subjects
from pose3d.training.protocols import make_split

AVAILABLE = {
    s: ["Directions", "Directions 1", "Walking 1", "Walking 2", "Sitting 1", "Sitting 2", "Photo"]
    for s in ("S1", "S5", "S9", "S11")
}
TRAIN, TEST = ["S1", "S5"], ["S9", "S11"]


def test_the_later_sub_action_of_each_action_of_the_last_training_subject_validates():
    split = make_split("cross_subject", AVAILABLE, TRAIN, TEST)
    held = hold_out_validation(split, validation_subjects(None, TRAIN))
    assert {(s, k) for s, k, _ in held.validation} == {("S5", "Directions 1"), ("S5", "Walking 2"), ("S5", "Sitting 2")}
    assert len(held.validation) == 12  # four cameras each
    assert not set(held.validation) & set(held.train)
    assert set(held.validation) | set(held.train) == set(split.train)
    assert ("S5", "Photo", 0) in held.train  # recorded once: stays in training
    assert held.tests == split.tests
    assert "S5" in describe(held, ["S5"]) and "3 sequences, 12 views" in describe(held, ["S5"])


@pytest.mark.parametrize("protocol, extra", [
    ("cross_subject", {}),
    ("cross_action", {"train_action": "Walking"}),
    ("cross_camera", {"train_cameras": [0], "test_cameras": [1, 2, 3]}),
])
def test_no_validation_view_belongs_to_a_test_subject(protocol, extra):
    split = hold_out_validation(make_split(protocol, AVAILABLE, TRAIN, TEST, **extra), ["S1"])
    assert split.validation and all(s == "S1" for s, _, _ in split.validation)
    assert not {(s, k) for s, k, _ in split.validation} & {(s, k) for s, k, _ in split.tests[split.headline]}


def test_a_test_subject_can_never_validate():
    with pytest.raises(ValueError, match=r"\['S9'\] are not training subjects"):
        validation_subjects(["S9"], TRAIN)
    with pytest.raises(ValueError, match="must be a list"):
        validation_subjects("S1", TRAIN)


def test_nothing_to_hold_out_is_a_clear_error():
    once = {"S1": ["Photo", "Walking 1"], "S9": ["Photo"]}
    with pytest.raises(ValueError, match="no validation views"):
        hold_out_validation(make_split("cross_subject", once, ["S1"], ["S9"]), ["S1"])


def test_cross_action_headline_is_the_unseen_actions():
    split = make_split("cross_action", AVAILABLE, TRAIN, TEST, train_action="Walking")
    assert split.headline == "unseen"
    assert not any(k.startswith("Walking") for _, k, _ in split.tests["unseen"])
    assert any(k.startswith("Walking") for _, k, _ in split.tests["all"])
    assert make_split("cross_subject", AVAILABLE, TRAIN, TEST).headline == "test"


def _save_run(folder, done: int, epochs: int, best_epoch: int):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {"w": torch.tensor([float(done)])}, "history": {"epoch": done}, "config": {"epochs": epochs}},
               folder / "latest.pt")
    torch.save({"model": {"w": torch.tensor([float(best_epoch)])}, "epoch": best_epoch}, folder / "best.pt")


def test_last_and_best_checkpoints(tmp_path):
    _save_run(tmp_path, 4, 4, 2)
    last, best = load_checkpoint(tmp_path, "last"), load_checkpoint(tmp_path, "best")
    assert (last.epoch, last.state_dict["w"].item(), last.describe()) == (4, 4.0, "last epoch (4 of 4)")
    assert (best.epoch, best.state_dict["w"].item()) == (2, 2.0)
    assert best.describe() == "best on validation (epoch 2 of 4)"


def test_an_unfinished_run_is_not_scored(tmp_path):
    _save_run(tmp_path, 3, 4, 2)
    with pytest.raises(ValueError, match="stopped after epoch 3 of 4"):
        load_checkpoint(tmp_path, "last")
    with pytest.raises(FileNotFoundError, match="no trained model"):
        load_checkpoint(tmp_path / "absent", "last")
    with pytest.raises(ValueError, match="not one of last, best"):
        load_checkpoint(tmp_path, "final")
