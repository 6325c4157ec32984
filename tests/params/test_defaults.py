"""The schema's defaults are the committed params.yaml, so a key deleted from the file changes nothing."""
from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

from pose3d.params import SECTIONS, as_dict, check_params, section
from pose3d.params.schema import Evaluate
from pose3d.detections.noise import NoiseParams
from pose3d.report.settings import ReportSettings
from pose3d.training.loop import TrainConfig
from pose3d.video.extract import FrameSettings
from tests.helpers import ROOT

PARAMS = ROOT / "params.yaml"
#: schema keys params.yaml does not set (each experiment names its loss; the BatchNorm schedule is the seeds')
#: recipe keys each experiment sets for itself (params.yaml documents them above ``experiments:``)
NOT_IN_FILE = {"train": {"loss", "bn_momentum_start", "bn_momentum_end", "optimizer", "amsgrad", "weight_decay",
                         "schedule", "lr_decay_large", "large_decay_epoch", "step_size", "gamma", "milestones",
                         "bn_schedule", "input_2d", "eval_input_2d", "use_scores"}}


@pytest.fixture(scope="module")
def committed() -> dict:
    return yaml.safe_load(PARAMS.read_text())


def test_every_section_of_the_committed_file_loads(committed):
    loaded = check_params(committed, PARAMS)
    assert list(loaded) == list(SECTIONS)
    assert loaded["priors"].input_2d == "noisy" and loaded["synthesize"].videos.subjects == "all"
    assert loaded["priors"].source == "triangulation"
    assert loaded["evaluate"].checkpoint == "last"


def test_the_noisy_source_states_every_noise_setting_at_its_default(committed):
    noise = committed["inputs_2d"]["noisy"]["noise"]
    assert set(noise) == {f.name for f in dataclasses.fields(NoiseParams)}
    assert NoiseParams.from_dict(noise) == NoiseParams()


@pytest.mark.parametrize("name", list(SECTIONS))
def test_defaults_equal_the_committed_file(committed, name):
    defaults, written = as_dict(SECTIONS[name]()), committed[name]
    assert set(defaults) - set(written) == NOT_IN_FILE.get(name, set()), f"params.yaml {name} lacks keys"
    for key, value in written.items():
        assert defaults[key] == value, f"{name}.{key}: code default {defaults[key]!r}, params.yaml {value!r}"


@pytest.mark.parametrize("name", list(SECTIONS))
def test_deleting_any_key_from_the_file_changes_nothing(committed, name):
    full = section(committed, name)
    for key in committed[name]:
        trimmed = {**committed, name: {k: v for k, v in committed[name].items() if k != key}}
        assert section(trimmed, name) == full, f"without {name}.{key}"
    for nested in (f.name for f in dataclasses.fields(full) if dataclasses.is_dataclass(getattr(full, f.name))):
        for key in committed[name][nested]:
            inner = {k: v for k, v in committed[name][nested].items() if k != key}
            assert section({**committed, name: {**committed[name], nested: inner}}, name) == full, \
                f"without {name}.{nested}.{key}"
    assert section({}, name) == full  # an absent section is all defaults


def test_evaluate_checkpoint_is_last_or_best():
    assert typing.get_args(typing.get_type_hints(Evaluate)["checkpoint"]) == ("last", "best")
    assert section({"evaluate": {"checkpoint": "best"}}, "evaluate").checkpoint == "best"


def _shared_defaults(library: type, schema: type) -> tuple[dict, dict]:
    names = {f.name for f in dataclasses.fields(library)} & {f.name for f in dataclasses.fields(schema)}
    lib = {f.name: f.default for f in dataclasses.fields(library) if f.name in names}
    return lib, {k: v for k, v in dataclasses.asdict(schema()).items() if k in names}


@pytest.mark.parametrize("library, name, sub", [
    (FrameSettings, "frames", None), (ReportSettings, "report", None),
])
def test_library_settings_have_the_same_defaults(library, name, sub):
    schema = SECTIONS[name]
    if sub:
        schema = type(getattr(schema(), sub))
    lib, ours = _shared_defaults(library, schema)
    assert len(lib) >= 5 and lib == ours


def test_train_config_defaults_equal_the_train_section():
    lib, ours = _shared_defaults(TrainConfig, SECTIONS["train"])
    assert lib == ours
