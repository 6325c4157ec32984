"""A misspelt key, a wrong type or a misplaced null stops the read with the file, the key and a hint."""
from __future__ import annotations

import pytest
import yaml

from pipelines.overrides import OverrideError, check_file
from pose3d.params import SECTIONS, ParamsError, check_params, describe, section
from pose3d.params.schema import Priors, Videos
from tests.helpers import ROOT

SOURCE = "conf/my-params.yaml"
COMMITTED = yaml.safe_load((ROOT / "params.yaml").read_text())


def _misspell(key: str) -> str:
    """Two neighbouring letters exchanged, as a typing slip would."""
    i = len(key) // 2
    return key[:i - 1] + key[i] + key[i - 1] + key[i + 1:]


def _cases():
    for name in SECTIONS:
        yield name, (), max(COMMITTED[name], key=len)
    yield "synthesize", ("videos",), "actions"
    yield "report", (), "clip_action"


@pytest.mark.parametrize("name, path, key", list(_cases()))
def test_a_misspelt_key_names_the_key_the_file_and_the_right_key(name, path, key):
    params = yaml.safe_load(yaml.safe_dump(COMMITTED))
    node = params[name]
    for part in path:
        node = node[part]
    wrong = _misspell(key)
    assert wrong != key
    node[wrong] = node.pop(key)
    with pytest.raises(ParamsError) as exc:
        section(params, name, SOURCE)
    where = ".".join((name, *path))
    assert str(exc.value) == f"{SOURCE}: {where}: unknown key {wrong!r}; did you mean {key!r}?"


def test_a_key_like_no_other_lists_the_known_keys():
    with pytest.raises(ParamsError, match=r"unknown key 'zzz'; known: tta, checkpoint, robustness, robustness_stride$"):
        section({"evaluate": {"zzz": 1}}, "evaluate", SOURCE)


@pytest.mark.parametrize("name, values, message", [
    ("train", {"epochs": "ten"}, "train.epochs must be an integer, got 'ten'"),
    ("train", {"epochs": True}, "train.epochs must be an integer, got True"),
    ("train", {"epochs": None}, "train.epochs must be an integer, got None"),
    ("train", {"lr": "1e-3"}, "train.lr must be a number, got '1e-3'"),
    ("convert", {"workers": "two"}, "convert.workers must be an integer or null, got 'two'"),
    ("frames", {"undistort": "yes"}, "frames.undistort must be true or false, got 'yes'"),
    ("frames", {"boxes": "mask"}, "frames.boxes must be one of 'auto', 'masks', 'joints', got 'mask'"),
    ("dataset", {"subjects": "S1"}, "dataset.subjects must be a list of strings, got 'S1'"),
    ("dataset", {"source": "reel"}, "dataset.source must be one of 'synthetic', 'real', got 'reel'"),
    ("synthesize", {"videos": {"crf": "23"}}, "synthesize.videos.crf must be an integer, got '23'"),
    ("synthesize", {"videos": {"subjects": 9}}, "synthesize.videos.subjects must be a list of strings or 'all'"),
    ("synthesize", {"videos": [1]}, "synthesize.videos must be a mapping of keys, got [1]"),
    ("evaluate", {"robustness_stride": 1.5}, "evaluate.robustness_stride must be an integer, got 1.5"),
    ("evaluate", {"robustness": [5]}, "evaluate.robustness must be a mapping, got [5]"),
    ("priors", {"camera_weights": [1, "x"]}, "priors.camera_weights must be a list of numbers or null"),
    ("priors", {"source": "algebraic"}, "priors.source must be 'triangulation' or 'algebraic:<experiment>', "
                                        "got 'algebraic'"),
    ("priors", {"source": "algebraic:../x"}, "priors.source must be 'triangulation' or 'algebraic:<experiment>'"),
    ("priors", {"source": 3}, "priors.source must be a string, got 3"),
    ("evaluate", {"checkpoint": "final"}, "evaluate.checkpoint must be one of 'last', 'best', got 'final'"),
    ("report", {"clip_frames": 4.5}, "report.clip_frames must be an integer, got 4.5"),
])
def test_a_wrong_type_names_the_key_and_the_file(name, values, message):
    with pytest.raises(ParamsError) as exc:
        section({name: values}, name, SOURCE)
    assert str(exc.value).startswith(f"{SOURCE}: {message}")


def test_values_are_converted_to_the_schema_types():
    assert section({"train": {"lr": 1}}, "train").lr == 1.0 and isinstance(section({"train": {"lr": 1}}, "train").lr, float)
    assert section({"report": {"compare": 1234567}}, "report").compare == "1234567"  # a short hash YAML read as a number
    assert section({"synthesize": {"videos": {"subjects": "all", "cameras": [0, "54138969"]}}},
                   "synthesize").videos == Videos(subjects="all", cameras=(0, "54138969"))
    assert section({"priors": {"camera_weights": [1, 0, 1, 1], "input_2d": 7}}, "priors") == Priors(
        camera_weights=(1.0, 0.0, 1.0, 1.0), input_2d="7")
    assert section({"priors": {"source": "algebraic:alg_4v.b"}}, "priors").source == "algebraic:alg_4v.b"
    assert section({"convert": None}, "convert") == SECTIONS["convert"]()


def test_unknown_sections_are_named_with_a_suggestion():
    with pytest.raises(ParamsError, match=r"^f.yaml: unknown section 'evalute'; did you mean 'evaluate'\?$"):
        check_params({"evalute": {}}, "f.yaml")
    with pytest.raises(ParamsError, match="unknown section 'frame'; did you mean 'frames'"):
        section({}, "frame", "f.yaml")
    check_params({"experiments": {"x": {}}, "extra_experiments": {}}, "f.yaml")  # checked per experiment elsewhere


def test_descriptions_say_which_keys_may_be_null():
    assert describe(int | None) == "an integer or null"
    assert describe(tuple[int | str, ...]) == "a list of integers or strings"


@pytest.mark.parametrize("overrides, message", [
    ({"convert.workers": "two"}, "convert.workers must be an integer or null, got 'two'"),
    ({"evaluate.checkpoint": "final"}, "evaluate.checkpoint must be one of 'last', 'best', got 'final'"),
    ({"priors": {"input_2d": "gt", "ransac_treshold_px": 2.0}},
     "priors: unknown key 'ransac_treshold_px'; did you mean 'ransac_threshold_px'?"),
    ({"evaluate": {"tta": True, "chekpoint": "best"}}, "evaluate: unknown key 'chekpoint'; did you mean 'checkpoint'?"),
])
def test_overrides_are_checked_against_the_schema(tmp_path, overrides, message):
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text())
    with pytest.raises(OverrideError) as exc:
        check_file(path, {"train.epochs": 3, **overrides})
    assert str(exc.value) == f"{path}: {message}"
    assert [o.key for o in check_file(path, {"convert.workers": 2, "evaluate.checkpoint": "best"})] == [
        "convert.workers", "evaluate.checkpoint"]
