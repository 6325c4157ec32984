"""Prefect flows that drive DVC: ``h36m-pipeline`` (one run of the pipeline) and ``h36m-sweep``
(a set of DVC experiments run from the queue).

DVC decides what runs and caches files; Prefect adds parameters, per-stage tasks with retries,
logs, artifacts and deployments. Overrides and targets are checked before anything runs.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from pipelines import dvc_graph, tables
from pipelines import overrides as params_overrides
from pipelines.dvc_cli import DvcFailed, DvcLockBusy, DvcResult, run_dvc, side_by_side_env

PARAMS = "params.yaml"
REPORT = Path("data/reports/report.md")
#: seconds between retries of a DVC call that found the repository lock taken
LOCK_RETRY_DELAYS = [2, 4, 8, 15, 30, 60]
#: the most stage tasks in flight; the ``parallel`` parameter chooses up to this many
MAX_PARALLEL = 8
Mode = Literal["repro", "stages", "experiment"]


def _lock_busy(task, task_run, state) -> bool:
    """Retry only when DVC's repository lock was taken; a failing stage is not retried."""
    try:
        return isinstance(state.result(raise_on_failure=False), DvcLockBusy)
    except Exception:  # noqa: BLE001 - an unreadable result is not a lock conflict
        return False


dvc_task = task(retries=len(LOCK_RETRY_DELAYS), retry_delay_seconds=LOCK_RETRY_DELAYS, retry_jitter_factor=0.5,
                retry_condition_fn=_lock_busy, cache_policy=NO_CACHE)


def _sink(log: logging.LoggerAdapter | logging.Logger) -> Callable[[str], None]:
    """Each line of DVC's and the stage's output into the run log, errors as errors."""
    def emit(line: str) -> None:
        if line.startswith("ERROR") or " ERROR " in line or line.startswith("Traceback"):
            log.error(line)
        elif line.startswith("WARNING") or " WARNING " in line:
            log.warning(line)
        else:
            log.info(line)
    return emit


def _dvc(args: list[str], workdir: str, env: dict[str, str] | None = None) -> DvcResult:
    return run_dvc(args, workdir, on_line=_sink(get_run_logger()), env=env)


def _outcome(stage: str, result: DvcResult) -> str:
    if stage in result.stages_run():
        return "ran"
    if any(f"'{stage}' is cached" in line for line in result.lines):
        return "restored"  # from DVC's run-cache
    return "skipped"


@task(name="apply-overrides", cache_policy=NO_CACHE)
def apply_overrides(workdir: str, overrides: dict[str, Any]) -> list[str]:
    log = get_run_logger()
    changed = params_overrides.apply(Path(workdir) / PARAMS, overrides)
    for o in changed:
        inherited = ", inherited from its section" if o.added else ""
        log.info("%s: %s = %r (was %r%s)", PARAMS, o.key, o.new, o.old, inherited)
    if not changed:
        log.info("%s already holds every override", PARAMS)
    return [o.key for o in changed]


@dvc_task(name="dvc-status")
def dvc_status(workdir: str) -> list[str]:
    return sorted(dvc_graph.out_of_date(workdir))


@dvc_task(name="dvc-stage", task_run_name="{stage}")
def repro_stage(workdir: str, stage: str, force: bool = False, pull: bool = False,
                env: dict[str, str] | None = None) -> str:
    """One DVC stage: ``dvc repro --single-item``; DVC skips it when it is up to date.
    ``env``: extra variables for the stage (its share of the cores when others run beside it)."""
    args = ["repro", "--single-item", stage, *(["--force"] if force else []), *(["--pull"] if pull else [])]
    return _outcome(stage, _dvc(args, workdir, env))


@dvc_task(name="dvc-repro")
def repro_all(workdir: str, stages: list[str], force: bool = False, pull: bool = False) -> dict[str, str]:
    """The whole pipeline (or ``stages`` and their upstream) in one ``dvc repro``."""
    result = _dvc(["repro", *(["--force"] if force else []), *(["--pull"] if pull else []), *stages], workdir)
    return {s: "ran" for s in result.stages_run()}


@dvc_task(name="dvc-exp-run")
def exp_run(workdir: str, name: str, stages: list[str], force: bool = False, pull: bool = False) -> dict[str, str]:
    """``dvc exp run``: the run becomes a DVC experiment named ``name`` (see ``dvc exp show``)."""
    args = ["exp", "run", "--name", name, *(["--force"] if force else []), *(["--pull"] if pull else []), *stages]
    result = _dvc(args, workdir)
    return {s: "ran" for s in result.stages_run()}


@dvc_task(name="dvc-push")
def dvc_push(workdir: str) -> None:
    """Outputs and run-cache to the default DVC remote, so another machine can pull them."""
    _dvc(["push", "--run-cache"], workdir)


@dvc_task(name="publish-artifacts")
def publish(workdir: str, summary: dict[str, str]) -> list[str]:
    """``dvc metrics show`` as a markdown table, and the report if the pipeline wrote one."""
    log = get_run_logger()
    shown = run_dvc(["metrics", "show", "--json"], workdir).json()
    ran = ", ".join(f"`{s}` ({how})" for s, how in summary.items() if how != "up to date") or "none"
    keys = [_artifact("h36m-metrics", f"# Metrics\n\nStages this run: {ran}\n\n{tables.metrics_markdown(shown)}\n",
                      f"dvc metrics show in {workdir}")]
    report = Path(workdir) / REPORT
    if report.is_file():
        keys.append(_artifact("h36m-report", report.read_text(), f"{REPORT} (figures stay in {report.parent})"))
    else:
        log.info("%s does not exist (no report stage, or it has not run): report artifact skipped", REPORT)
    return keys


def _artifact(key: str, markdown: str, description: str) -> str:
    create_markdown_artifact(markdown=markdown, key=key, description=description)
    return key


def _workspace(workdir: str | None) -> Path:
    root = Path(workdir or ".").resolve()
    for name in ("dvc.yaml", PARAMS):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{root / name}: missing; run the flow from the project root or pass workdir")
    return root


def _run_stages(root: Path, graph: dvc_graph.Graph, todo: list[str], force: bool, pull: bool,
                parallel: int) -> dict[str, str]:
    """Submit each stage once its upstream stages are done, at most ``parallel`` at a time.
    After a failure nothing new starts; stages already running finish, then the failure is raised.
    Each stage gets its share of the cores among the stages that may run beside it
    (``POSE3D_THREADS``); one that runs alone keeps every core."""
    log = get_run_logger()
    envs = {s: side_by_side_env(n) for s, n in dvc_graph.side_by_side(graph, todo, parallel).items()}
    shared = {s: env for s, env in envs.items() if env}
    if shared:
        log.info("stages that may run side by side, with their share of the cores: %s",
                 ", ".join(f"{s} ({' '.join(f'{k}={v}' for k, v in env.items())})" for s, env in shared.items()))
    running: dict[Any, str] = {}
    done: dict[str, Any] = {}
    results: dict[str, str] = {}
    failure: tuple[str, BaseException] | None = None
    pending = list(todo)
    while pending or running:
        for stage in list(pending) if failure is None else []:
            if len(running) >= parallel:
                break
            ups = [d for d in graph[stage] if d in todo]
            if all(d in done for d in ups):
                pending.remove(stage)
                fut = repro_stage.submit(str(root), stage, force, pull, envs[stage], wait_for=[done[d] for d in ups])
                running[fut] = stage
        if failure is not None and pending:
            log.error("not started after the failure of %s: %s", failure[0], ", ".join(pending))
            results.update({s: "not run" for s in pending})
            pending = []
        if not running:
            break
        fut = next(iter(as_completed(list(running))))
        stage = running.pop(fut)
        try:
            results[stage] = fut.result()
            done[stage] = fut
        except BaseException as exc:  # noqa: BLE001 - recorded, raised once the others are done
            results[stage] = "failed"
            failure = failure or (stage, exc)
    if failure is not None:
        raise DvcFailed(f"stage {failure[0]} failed: {failure[1]}") from failure[1]
    return results


@flow(name="h36m-pipeline", task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL))
def h36m_pipeline(
    overrides: dict[str, Any] | None = None,
    targets: list[str] | None = None,
    force: bool = False,
    mode: Mode = "repro",
    parallel: int = 2,
    experiment_name: str | None = None,
    pull: bool = False,
    push: bool = False,
    workdir: str | None = None,
) -> dict[str, str]:
    """Bring the pipeline (or ``targets``) up to date with ``overrides`` applied to params.yaml.

    overrides: dotted keys of params.yaml, e.g. ``{"experiments.srnet_1f.lr": 0.0005}``.
    targets: stages (``priors``), stage groups (``train``) or experiment names (``srnet_1f``:
        its train@ and evaluate@ stages); upstream stages come along. Empty: everything.
    force: run the selected stages even if DVC finds them up to date.
    mode: ``repro`` one ``dvc repro``; ``stages`` one task per DVC stage, independent stages
        side by side (up to ``parallel``); ``experiment`` ``dvc exp run`` named
        ``experiment_name`` (default: this flow run's name), listed by ``dvc exp show``.
    pull / push: fetch missing data from the DVC remote first / push outputs and run-cache after.
    workdir: the project checkout (default: the working directory).
    Returns what happened to each stage: ran, restored (run-cache), skipped, up to date.
    """
    log = get_run_logger()
    root = _workspace(workdir)
    if not 1 <= parallel <= MAX_PARALLEL:
        raise ValueError(f"parallel must be between 1 and {MAX_PARALLEL}, got {parallel}")
    params_overrides.check_file(root / PARAMS, overrides)  # nothing has run yet: fail here
    graph = dvc_graph.stage_graph(root)
    selected = dvc_graph.expand_targets(graph, targets)
    log.info("workspace %s, mode %s, %d stages in dvc.yaml%s", root, mode, len(graph),
             f", targets {', '.join(selected)}" if selected else "")
    if overrides:
        apply_overrides(str(root), overrides)

    if mode == "repro":
        summary = repro_all(str(root), selected, force, pull)
    elif mode == "experiment":
        name = experiment_name or flow_run.get_name() or f"h36m-{int(time.time())}"
        summary = exp_run(str(root), name, selected, force, pull)
        log.info("DVC experiment %r: see `dvc exp show`", name)
    else:
        changed = set() if force else set(dvc_status(str(root)))
        todo = dvc_graph.plan(graph, selected, changed, force)
        wanted = dvc_graph.upstream(graph, selected) if selected else set(graph)
        log.info("to check with DVC: %s", ", ".join(todo) or "nothing (all up to date)")
        summary = {s: "up to date" for s in graph if s in wanted and s not in todo}
        summary.update(_run_stages(root, graph, todo, force, pull, parallel))
    if push:
        dvc_push(str(root))
    publish(str(root), summary)
    return summary


# ---------------------------------------------------------------------------------------------
# sweeps: DVC's experiment queue, each experiment in its own temporary workspace

QUEUE_STATES = {"Queued", "Running", "Success", "Failed"}


def _queue_states(workdir: str) -> dict[str, str]:
    """{experiment name: Queued | Running | Success | Failed} from ``dvc queue status``."""
    states = {}
    for line in run_dvc(["queue", "status"], workdir).lines:
        parts = line.split()
        if len(parts) >= 4 and parts[-1] in QUEUE_STATES:
            states[parts[1]] = parts[-1]
    return states


@dvc_task(name="dvc-exp-queue", task_run_name="queue-{name}")
def queue_experiment(workdir: str, name: str, overrides: dict[str, Any], stages: list[str]) -> None:
    """Queue one experiment: write its overrides into params.yaml, ``dvc exp run --queue``
    (which keeps the workspace's changes), then put params.yaml back as it was."""
    path = Path(workdir) / PARAMS
    original = path.read_bytes()
    try:
        params_overrides.apply(path, overrides)
        _dvc(["exp", "run", "--queue", "--name", name, *stages], workdir)
    finally:
        if path.read_bytes() != original:
            path.write_bytes(original)


@dvc_task(name="dvc-exp-run-all")
def run_queue(workdir: str, names: list[str], jobs: int) -> dict[str, str]:
    """``dvc exp run --run-all --jobs N``: the queued experiments, N at a time, each in its own
    temporary workspace; their logs stream into this task's log. It returns when all are done
    and its workers are gone (measured here: 23 s for two small experiments, against 38 s for
    ``dvc queue start`` and polling ``dvc queue status``). It exits 0 even when an experiment
    failed, so the outcome comes from ``dvc queue status``. With several workers, each
    experiment's stages get their share of the cores (``POSE3D_THREADS``), which DVC's queue
    workers inherit."""
    env = side_by_side_env(min(jobs, len(names)))
    if env:
        get_run_logger().info("%d experiments side by side: %s", min(jobs, len(names)),
                              ", ".join(f"{k}={v}" for k, v in env.items()))
    _dvc(["exp", "run", "--run-all", "--jobs", str(jobs)], workdir, env)
    states = _queue_states(workdir)
    return {n: states.get(n, "not run") for n in names}


@dvc_task(name="publish-sweep")
def publish_sweep(workdir: str, names: list[str]) -> str:
    shown = run_dvc(["exp", "show", "--json"], workdir).json()
    table = tables.experiments_markdown(shown, names)
    return _artifact("h36m-sweep", f"# Sweep\n\n{table}\n", f"dvc exp show in {workdir}")


@flow(name="h36m-sweep")
def h36m_sweep(
    override_sets: list[dict[str, Any]],
    jobs: int = 1,
    names: list[str] | None = None,
    targets: list[str] | None = None,
    workdir: str | None = None,
) -> dict[str, str]:
    """Queue one DVC experiment per override set and run the queue with ``jobs`` workers.

    override_sets: e.g. ``[{"train.lr": 0.001}, {"train.lr": 0.0005}]``; each is checked first.
    names: experiment names (default: ``<flow run name>-<i>``).
    targets: stages / experiment names to reproduce in each experiment (default: all).
    Ends with the comparison table (``dvc exp show``) as the ``h36m-sweep`` artifact; fails if
    any experiment failed. Returns {name: Success | Failed}.
    """
    log = get_run_logger()
    root = _workspace(workdir)
    if not override_sets:
        raise ValueError("override_sets is empty: nothing to sweep")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    for i, overrides in enumerate(override_sets):
        try:
            params_overrides.check_file(root / PARAMS, overrides)
        except params_overrides.OverrideError as exc:
            raise params_overrides.OverrideError(f"override set {i}: {exc}") from None
    base = flow_run.get_name() or f"sweep-{int(time.time())}"
    names = list(names) if names else [f"{base}-{i}" for i in range(len(override_sets))]
    if len(names) != len(override_sets) or len(set(names)) != len(names):
        raise ValueError(f"names must be {len(override_sets)} distinct names, got {names}")
    selected = dvc_graph.expand_targets(dvc_graph.stage_graph(root), targets)

    for name, overrides in zip(names, override_sets, strict=True):
        queue_experiment(str(root), name, overrides, selected)
    states = run_queue(str(root), names, jobs)
    publish_sweep(str(root), names)
    failed = [n for n, s in states.items() if s != "Success"]
    if failed:
        raise DvcFailed(f"experiments failed: {', '.join(failed)} (their logs are above; `dvc queue logs <name>`)")
    log.info("experiments %s done: `dvc exp show`, `dvc exp apply <name>`", ", ".join(names))
    return states
