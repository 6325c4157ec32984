"""DVC stage ``report``: one offline HTML page (and markdown) over every experiment of params.yaml.

Reads ``report`` (compare, clip_action, clip_frames, clip_stride, worst_frames,
crop_samples), the experiment entries, ``image_experiments``, ``detect``,
``algebraic_experiments`` / ``volumetric_experiments``, ``inputs_2d``, ``dataset`` and
``evaluate.tta``; inputs are whatever the other stages wrote: ``data/processed/`` (sequences,
priors, frames), ``data/metrics/`` (eval.json, per_action.csv, per_joint.csv, DVCLive curves,
priors.json, pelvis_priors.json; an image experiment's samples.npz and detect.json) and
``data/models/<name>/`` (config.json; best.pt for the skeleton renders of the lifting
experiments, predicted on the CPU; image and multi-view experiments are read from their
metrics only, no network is built for them). Absent inputs become notes in the report, not
errors. Writes ``data/reports/`` (``index.html``, ``report.md``,
figures) and ``data/reports.provenance.json``.

``--compare REV`` (or ``report.compare``) adds what changed against a git revision or DVC
experiment, from ``dvc params diff --json`` and ``dvc metrics diff --json``: the only DVC
calls of the project outside the pipeline definition, kept here so the library never
runs DVC.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from pose3d.io.atomic import replacing_dir
from pose3d.models import count_parameters
from pose3d.report import ReportSettings, assemble, collect_inputs, write_report
from pose3d.report.inputs import ReportInputs
from pose3d.report.qualitative import choose_view, predict_clip
from pose3d.training.data import PoseData
from pose3d.params import as_dict
from stages.common import fail, git_revision, provenance, section, start, write_json
from pose3d.experiments import (build_experiment_model, experiment_config, experiment_data, experiment_names,
                                skeleton_for, split_for, trained_model)

OUT = Path("data/reports")


def resolve_experiments(params: dict) -> tuple[dict[str, dict | str], dict[str, tuple[int, int]]]:
    """Each experiment's resolved config (or the error resolving it gave), and the parameter count
    and receptive field of the network it builds."""
    configs, networks = {}, {}
    for name in experiment_names(params):
        try:
            cfg = experiment_config(params, name)
            configs[name] = cfg
            model = build_experiment_model(cfg, training=False)
            networks[name] = (count_parameters(model), int(model.receptive_field))
        except (KeyError, ValueError, TypeError) as exc:
            configs.setdefault(name, str(exc))
    return configs, networks


def attach_clips(inputs: ReportInputs, params: dict, settings: ReportSettings, log: logging.Logger) -> None:
    """Predict one test view per trained experiment (CPU: a single sequence, same bytes every run), on
    the 2D the experiment is scored on."""
    scoring = section(params, "evaluate", log)
    tta = scoring.tta
    loaded: dict[tuple, PoseData] = {}  # one per 2D source and score use
    for run in inputs.experiments:
        if run.config_error:
            run.clip_note = f"config error: {run.config_error}"
            continue
        try:
            model, checkpoint = trained_model(run.name, run.config, scoring.checkpoint)
        except (OSError, ValueError) as exc:
            run.clip_note = f"{exc}: the train stage of {run.name} failed or has not run"
            continue
        try:
            which = (run.config["eval_input_2d"], bool(run.config.get("use_scores")))
            if which not in loaded:
                loaded[which] = experiment_data(run.config, params, "eval_input_2d")
            data = loaded[which]
            split = split_for(run.config, params, data.available)
            views = split.tests.get(run.headline_set) or next(iter(split.tests.values()), [])
            view = choose_view(views, settings.clip_action)
            if view is None:
                run.clip_note = "no test view"
                continue
            vd = data.view(*view, norm=run.config.get("norm", "base"), skeleton=skeleton_for(run.config))
            run.clip = predict_clip(run.name, model.eval(), model.receptive_field, vd, "cpu", tta=tta)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            run.clip_note = f"could not predict with {checkpoint.path}: {exc}"
            log.warning("%s: %s", run.name, run.clip_note)


def dvc_diff(rev: str, log: logging.Logger) -> dict:
    """``dvc params diff`` and ``dvc metrics diff`` of the workspace against ``rev``, as parsed JSON."""
    out: dict = {"rev": rev, "warnings": []}
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    for what in ("params", "metrics"):
        cmd = [sys.executable, "-m", "dvc", what, "diff", "--json", rev]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        except (OSError, subprocess.SubprocessError) as exc:
            fail(log, f"{' '.join(cmd[2:])}: {exc}")
        message = proc.stderr.strip()
        if proc.returncode != 0:
            fail(log, f"{' '.join(cmd[2:])} failed: {message.splitlines()[-1] if message else f'exit {proc.returncode}'}")
        try:
            out[what] = json.loads(proc.stdout or "{}")
        except ValueError:
            fail(log, f"{' '.join(cmd[2:])}: output is not JSON: {proc.stdout[:200]!r}")
        if message:
            out["warnings"].append(f"dvc {what} diff {rev}: {message}")
    return out


def versions() -> dict[str, str]:
    found = dict(provenance()["versions"])
    for pkg in ("pandas", "matplotlib", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[pkg] = metadata.version(pkg)
    return found


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(
        __doc__, argv, "report",
        compare={"default": None, "metavar": "REV", "help": "git revision or DVC experiment to compare with"},
        out={"type": Path, "default": OUT},
    )
    try:
        settings = ReportSettings.from_params(as_dict(section(params, "report", log)))
    except (TypeError, ValueError) as exc:
        fail(log, f"params.yaml report: {exc}")
    rev = args.compare or settings.compare
    t0 = time.time()
    configs, networks = resolve_experiments(params)
    inputs = collect_inputs(Path("."), params, configs, networks)
    attach_clips(inputs, params, settings, log)
    inputs.git_revision, inputs.versions, inputs.device = git_revision(), versions(), "cpu"
    if rev:
        inputs.compare = dvc_diff(str(rev), log)
    report = assemble(inputs, settings)
    for problem in inputs.problems:
        log.warning(problem)
    with replacing_dir(args.out) as tmp:
        sizes = write_report(report, tmp)
    seconds = time.time() - t0
    log.info("report: %d experiments (%d evaluated), %d image experiments (%d evaluated), %d files, index.html "
             "%.0f KB, in %.1f s -> %s", len(inputs.experiments), sum(r.evaluated for r in inputs.experiments),
             len(inputs.image_experiments), sum(r.evaluated for r in inputs.image_experiments), len(sizes),
             sizes["index.html"] / 1024, seconds, args.out / "index.html")
    write_json(args.out.with_name(args.out.name + ".provenance.json"),
               provenance(device="cpu", seconds=seconds, compare=rev, files=sizes, problems=inputs.problems))


if __name__ == "__main__":
    main()
