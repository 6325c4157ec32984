"""The report's sections, in reading order, each built from the inputs it needs.

A section whose inputs are absent carries a ``missing`` line saying which file is absent
and which stage writes it, so a partial pipeline still gives a readable report.
"""
from __future__ import annotations

import yaml

from pose3d.report import figures, robustness, tables
from pose3d.report.animation import render_gif, render_worst
from pose3d.report.compare import comparison_tables
from pose3d.report.crops import sample_crops
from pose3d.report.detected import coverage_notes, detected_section
from pose3d.report.detector import detector_section
from pose3d.report.document import Report, Section, Table, Text
from pose3d.report.image_runs import DETECT_STAGE, EVALUATE_STAGE, IMAGE_SECTION, ImageRun
from pose3d.report.inputs import FRAMES, METRICS, MODELS, POSES, PRIORS, ReportInputs
from pose3d.report.integral import integral_table, protocol_note
from pose3d.report.multiview import multiview_section, pelvis_priors_text
from pose3d.report.multiview_runs import MULTIVIEW_SECTIONS
from pose3d.report.settings import ReportSettings

#: params.yaml sections shown under Reproduce.
PARAM_SECTIONS = ("dataset", "synthesize", "convert", "frames", "inputs_2d", "priors", "train", "experiments",
                  IMAGE_SECTION, "detect", *MULTIVIEW_SECTIONS, "evaluate", "report")


def assemble(inputs: ReportInputs, settings: ReportSettings) -> Report:
    sections = [
        data_section(inputs),
        results_section(inputs),
        per_action_section(inputs),
        robustness_section(inputs),
        detector_section(inputs.image_experiments),
        detected_section(inputs.experiments, inputs.params),
        multiview_section(inputs.multiview_experiments, inputs.priors),
        curves_section(inputs),
        qualitative_section(inputs, settings),
        priors_section(inputs),
        frames_section(inputs, settings),
        reproduce_section(inputs),
        comparison_section(inputs),
    ]
    if inputs.problems:
        sections.insert(0, Section("problems", "Problems", [Text("; ".join(inputs.problems), "note")]))
    return Report("Human3.6M 3D pose: pipeline report", sections, subtitle=_subtitle(inputs))


def _subtitle(inputs: ReportInputs) -> str:
    done = [r for r in inputs.experiments if r.evaluated]
    text = f"{len(done)} of {len(inputs.experiments)} experiments"
    if inputs.image_experiments:
        text += (f" and {sum(r.evaluated for r in inputs.image_experiments)} of {len(inputs.image_experiments)} "
                 f"image experiments")
    if inputs.multiview_experiments:
        text += (f" and {sum(r.evaluated for r in inputs.multiview_experiments)} of "
                 f"{len(inputs.multiview_experiments)} multi-view experiments")
    text += " evaluated"
    done += [r for r in image_3d(inputs) if r.evaluated]
    if done:
        best = min(done, key=lambda r: r.eval["mpjpe"])
        text += f"; lowest MPJPE {best.eval['mpjpe']:.1f} mm ({best.name})"
    return f"{text}; data: {inputs.data.source}; git {inputs.git_revision[:12]}"


def image_3d(inputs: ReportInputs) -> list:
    """The image experiments that predict 3D joints: rows of the results and per-action tables."""
    return [r for r in inputs.image_experiments if r.is_3d]


def data_section(inputs: ReportInputs) -> Section:
    d = inputs.data
    sec = Section("data", "Data")
    if d.source == "synthetic" or d.manifest is not None:
        m = d.manifest or {}
        src = (f"Synthetic stand-in ({m.get('generator', 'pose3d synthetic stand-in')}), profile "
               f"**{m.get('profile', (inputs.params.get('synthesize') or {}).get('profile', '?'))}**, seed "
               f"**{m.get('seed', (inputs.params.get('synthesize') or {}).get('seed', '?'))}**, in {d.raw_dir}.")
    else:
        src = f"Official Human3.6M release in {d.raw_dir}."
    sec.blocks.append(Text(f"Source: {src} Training subjects: {', '.join(d.train_subjects) or '–'}; "
                           f"test subjects: {', '.join(d.test_subjects) or '–'}; exclusion rules: "
                           f"{', '.join(d.exclude) or 'none'}."))
    if d.sequences is None:
        sec.missing = f"{POSES / 'sequences.csv'} is absent: the convert stage has not run."
        return sec
    seq = d.sequences
    sec.blocks.append(tables.subjects_table(d))
    excluded = tables.excluded_table(d)
    if excluded is not None and excluded.rows:
        sec.blocks.append(excluded)
    else:
        sec.blocks.append(Text("No sequence or view was excluded."))
    if "max_reprojection_px" in seq.columns:
        worst = seq.loc[seq["max_reprojection_px"].idxmax()]
        tol = f" (tolerance {d.reproj_tol_px} px)" if d.reproj_tol_px is not None else ""
        failed = int((seq["checks"].astype(str) != "ok").sum()) if "checks" in seq.columns else 0
        sec.blocks.append(Text(
            f"2D reprojection check: the largest residual between D2_Positions and the projected D3_Positions is "
            f"**{worst['max_reprojection_px']:.2g} px** ({worst['subject']} {worst['key']}){tol} over "
            f"{len(seq)} sequences; {failed} sequence(s) failed a check."))
    return sec


def results_section(inputs: ReportInputs) -> Section:
    sec = Section("results", "Results")
    runs = [*inputs.experiments, *image_3d(inputs)]
    if not runs:
        sec.missing = f"No experiments under experiments: (or 3D models under {IMAGE_SECTION}:) in params.yaml."
        return sec
    table = tables.results_table(runs)
    if note := protocol_note(runs):
        table.note = f"{table.note} {note}"
    sec.blocks.append(table)
    pooled = integral_table(runs)
    if pooled is not None:
        sec.blocks.append(pooled)
    sec.blocks.extend(coverage_notes(inputs.experiments, inputs.params))
    if inputs.multiview_experiments:
        sec.blocks.append(Text("The multi-view experiments are scored as their seeds score them (frame-pooled, "
                               "pelvis-relative, each number on a pelvis source): see Multi-view models.", "note"))
    for run in runs:
        if not run.evaluated:
            stage = EVALUATE_STAGE if isinstance(run, ImageRun) else "evaluate"
            sec.blocks.append(Text(f"{run.name}: failed or not run: {METRICS / run.name / 'eval.json'} is absent "
                                   f"(dvc repro {stage}@{run.name}).", "note"))
    return sec


def per_action_section(inputs: ReportInputs) -> Section:
    sec = Section("per-action", "Per action")
    runs = [*inputs.experiments, *image_3d(inputs)]
    for metric in ("mpjpe", "p_mpjpe", "pa_mpjpe_noscale"):
        t = tables.per_action_table(runs, metric)
        if t.rows:
            sec.blocks.append(t)
    if sec.blocks:
        sec.blocks.extend(coverage_notes(inputs.experiments, inputs.params))
    if not sec.blocks:
        sec.missing = "No experiment has a per_action.csv (evaluate has not run)."
    return sec


def robustness_section(inputs: ReportInputs) -> Section:
    """Every experiment on the same corrupted copies of the ground-truth 2D (robustness.csv)."""
    sec = Section("robustness", "Robustness to 2D errors")
    runs = inputs.experiments
    found = [t for m in robustness.METRIC_LABELS if (t := robustness.robustness_table(runs, m)) is not None]
    if not found:
        sec.missing = (f"No experiment has a {METRICS}/<name>/robustness.csv (evaluate has not run, or ran "
                       f"before it scored corruptions).")
        return sec
    stride = (inputs.params.get("evaluate") or {}).get("robustness_stride", 20)
    sec.blocks.append(Text(
        "Each experiment is scored again with its 2D input replaced by corrupted copies of the ground-truth 2D "
        "(evaluate.robustness in params.yaml). The corruptions start from the ground truth, not from the 2D an "
        "experiment was trained or scored on, so every experiment meets the same inputs. Scored on "
        f"{_every(stride)} of the headline test set's views; the **gt** column is the uncorrupted ground truth on "
        "those same frames, the baseline to read the other columns against (the results table scores every "
        "frame, on each experiment's own 2D input). Errors are means over action groups, in mm."))
    found[0].note = f"{robustness.corruptions_note(runs)} The lowest error of each column is marked."
    sec.blocks.extend(found)
    image = robustness.robustness_figure(runs)
    if image is not None:
        sec.blocks.append(image)
    return sec


def _every(k) -> str:
    """'every frame', 'every 10th frame', 'every 2nd frame'."""
    try:
        k = int(k)
    except (TypeError, ValueError):
        return f"every {k}-th frame"
    if k == 1:
        return "every frame"
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"every {k}{suffix} frame"


def curves_section(inputs: ReportInputs) -> Section:
    sec = Section("curves", "Curves")
    runs = [*inputs.experiments, *inputs.image_experiments]
    for make, what in ((figures.curves_figure, "training logs (data/metrics/<name>/train/plots)"),
                       (figures.per_joint_figure, "per_joint.csv")):
        image = make(runs)
        sec.blocks.append(image if image is not None else Text(f"No {what} to plot.", "note"))
    if all(isinstance(b, Text) for b in sec.blocks):
        sec.blocks, sec.missing = [], "No training curves or per-joint errors yet (train / evaluate have not run)."
    return sec


def qualitative_section(inputs: ReportInputs, settings: ReportSettings) -> Section:
    sec = Section("qualitative", "Qualitative")
    for run in inputs.experiments:
        if run.clip is None:
            sec.blocks.append(Text(f"{run.name}: no render ({run.clip_note or 'no trained model'}).", "note"))
            continue
        sec.blocks.append(Text(run.name, "heading"))
        sec.blocks.append(render_gif(run.clip, settings.clip_frames, settings.clip_stride))
        if settings.worst_frames:
            still = render_worst(run.clip, settings.worst_frames)
            if still is not None:
                sec.blocks.append(still)
    if not any(r.clip is not None for r in inputs.experiments):
        sec.missing = f"No trained model to render ({MODELS}/<name>/latest.pt absent or unfinished)."
    return sec


def priors_section(inputs: ReportInputs) -> Section:
    sec = Section("priors", "Priors")
    p = inputs.priors
    if p is None or not p.metrics:
        sec.missing = f"No priors: {METRICS / 'priors.json'} is absent (the triangulate stage has not run)."
        if text := pelvis_priors_text(p):
            sec.blocks.append(Text(text))
        return sec
    m, prov = p.metrics, p.provenance or {}

    def num(key, scale=1.0, fmt=".1f"):
        v = m.get(key)
        return format(v * scale, fmt) if isinstance(v, (int, float)) else "–"

    how = ", ".join(x for x in (f"{prov['source_2d']} 2D" if prov.get("source_2d") else "",
                                f"RANSAC at {prov['ransac_threshold_px']} px" if prov.get("ransac_threshold_px") else "") if x)
    frames = f" over {m['frames']:,} frames" if isinstance(m.get("frames"), int) else ""
    sec.blocks.append(Text(
        f"Every frame's 17 joints triangulated from the four views{f' ({how})' if how else ''}: "
        f"MPJPE **{num('mpjpe_mm')} mm**{frames} (action-wise mean {num('mpjpe_action_mean_mm')} mm), "
        f"pelvis error {num('pelvis_error_mm')} mm, RANSAC inliers {num('ransac_inlier_fraction', 100)} %, "
        f"valid joints {num('valid_joint_fraction', 100, '.3f')} %."
        + (f" {text}" if (text := pelvis_priors_text(p)) else "")))
    image = figures.priors_figure(p)
    if image is not None:
        sec.blocks.append(image)
    for t in (tables.priors_action_table(p), tables.limb_table(p)):
        if t is not None:
            sec.blocks.append(t)
    if p.limb_mean_mm is None:
        sec.blocks.append(Text(f"{PRIORS / 'limb_stats.h5'} is absent or unreadable.", "note"))
    return sec


def frames_section(inputs: ReportInputs, settings: ReportSettings) -> Section:
    sec = Section("frames", "Frames")
    if not inputs.frames:
        sec.missing = f"No frames: no {FRAMES}/<subject>/index.csv (the frames stage has not run, or frames.subjects is empty)."
        return sec
    sec.blocks.append(tables.frames_table(inputs.frames))
    if settings.crop_samples:
        positions_2d = _positions_2d(inputs)
        image = sample_crops(inputs.frames, positions_2d, settings.crop_samples, inputs.problems)
        if image is not None:
            sec.blocks.append(image)
    skipped = tables.skipped_videos_table(inputs.frames)
    sec.blocks.append(skipped if skipped is not None else Text("No video was skipped."))
    return sec


def _positions_2d(inputs: ReportInputs) -> dict | None:
    path = inputs.root / POSES / "data_2d_h36m_gt.npz"
    if not path.is_file():
        return None
    from pose3d.h36m.vp3d_format import load_2d

    try:
        return load_2d(path)[0]
    except (OSError, ValueError, KeyError) as exc:
        inputs.problems.append(f"{POSES / 'data_2d_h36m_gt.npz'}: unreadable ({exc})")
        return None


def reproduce_section(inputs: ReportInputs) -> Section:
    sec = Section("reproduce", "Reproduce")
    versions = ", ".join(f"{k} {v}" for k, v in sorted(inputs.versions.items())) or "unknown"
    sec.blocks.append(Text(f"Git revision **{inputs.git_revision}**; report rendered on {inputs.device or 'cpu'}; "
                           f"packages: {versions}."))
    rows = []
    for run, stage in [*((r, "evaluate") for r in inputs.experiments),
                       *((r, EVALUATE_STAGE) for r in inputs.image_experiments)]:
        rows.append([run.name, f"dvc repro {stage}@{run.name}", f"dvc exp run {stage}@{run.name}",
                     run.training.get("git_revision", "–")[:12], run.training.get("device")])
    for run in inputs.image_experiments:
        if run.detect_listed:
            rows.append([f"{run.name} (detections)", f"dvc repro {DETECT_STAGE}@{run.name}",
                         f"dvc exp run {DETECT_STAGE}@{run.name}", None, None])
    for run in inputs.multiview_experiments:
        rows.append([run.name, f"dvc repro {run.evaluate_stage}", f"dvc exp run {run.evaluate_stage}",
                     run.training.get("git_revision", "–")[:12], run.training.get("device")])
    if rows:
        sec.blocks.append(Table(["Experiment", "Reproduce", "As a DVC experiment", "Trained at", "Trained on"], rows,
                                title="Commands",
                                note="Change a setting without editing params.yaml: "
                                     "dvc exp run -S 'experiments.<name>.lr=0.001' evaluate@<name> "
                                     f"({IMAGE_SECTION}.<name>.lr for an image experiment, with {EVALUATE_STAGE}@). "
                                     "Everything, report included: dvc repro."))
    params = {k: inputs.params[k] for k in PARAM_SECTIONS if k in inputs.params}
    sec.blocks.append(Text(params_yaml(params), "code"))
    return sec


class _ParamsDumper(yaml.SafeDumper):
    """Block mappings, and lists of plain values on one line, as params.yaml writes them."""


def _represent_list(dumper, data):
    flow = all(not isinstance(x, (list, dict)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ParamsDumper.add_representer(list, _represent_list)


def params_yaml(params: dict) -> str:
    return yaml.dump(params, Dumper=_ParamsDumper, sort_keys=False, default_flow_style=False, width=200).strip()


def comparison_section(inputs: ReportInputs) -> Section:
    sec = Section("comparison", "Comparison across runs")
    c = inputs.compare
    if not c:
        sec.blocks.append(Text("No comparison requested: python -m stages.report --compare <git revision or DVC "
                               "experiment>, or set report.compare in params.yaml."))
        return sec
    sec.blocks.append(Text(f"The workspace against **{c['rev']}** (dvc params diff / dvc metrics diff)."))
    for w in c.get("warnings") or []:
        sec.blocks.append(Text(w, "note"))
    sec.blocks.extend(comparison_tables(c["rev"], c.get("params"), c.get("metrics")))
    return sec
