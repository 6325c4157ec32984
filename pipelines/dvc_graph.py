"""The stage graph as DVC sees it, and which stages are out of date.

Nothing here knows the stage list: it comes from ``dvc.yaml`` through DVC's own index, so new
stages (``foreach`` groups, a report) appear without changes here.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.dvc_cli import run_dvc

Graph = dict[str, list[str]]  # stage -> the stages it depends on, in run order


class UnknownTarget(ValueError):
    """A target that names no stage, stage group or ``@`` item of the pipeline."""


def stage_graph(root: Path | str) -> Graph:
    """Every stage of the pipeline with its direct upstream stages, in a valid run order."""
    import networkx as nx
    from dvc.repo import Repo

    root = Path(root).resolve()
    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        name = {s: _address(s, root) for s in graph.nodes}
        order = list(reversed(list(nx.lexicographical_topological_sort(graph, key=name.get))))
        return {name[s]: sorted(name[d] for d in graph.successors(s)) for s in order}


def _address(stage, root: Path) -> str:
    """The stage's name as DVC commands run in ``root`` take it (``Stage.addressing`` is
    relative to the current directory instead)."""
    dvcfile = os.path.relpath(stage.path, root)
    name = getattr(stage, "name", None)
    if not name:
        return dvcfile
    return name if dvcfile == "dvc.yaml" else f"{dvcfile}:{name}"


def expand_targets(graph: Graph, targets: Iterable[str] | None) -> list[str]:
    """Stage names for targets: a stage (``train@srnet_1f``), a ``foreach`` group (``train``), or
    the item after ``@`` (an experiment name, ``srnet_1f`` → its train@ and evaluate@ stages).
    An empty list means the whole pipeline."""
    out: list[str] = []
    for target in targets or []:
        if target in graph:
            found = [target]
        else:
            found = [s for s in graph if "@" in s and target in s.split("@", 1)]
        if not found:
            raise UnknownTarget(f"dvc.yaml: target {target!r} is not a stage, stage group or experiment "
                                f"(stages: {', '.join(graph)})")
        out += [s for s in found if s not in out]
    return out


def _reach(edges: Graph, stages: Iterable[str]) -> set[str]:
    """``stages`` and every stage reachable from them along ``edges``."""
    seen: set[str] = set()
    todo = list(stages)
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo += edges[s]
    return seen


def upstream(graph: Graph, stages: Iterable[str]) -> set[str]:
    """``stages`` and everything they depend on."""
    return _reach(graph, stages)


def downstream(graph: Graph, stages: Iterable[str]) -> set[str]:
    """``stages`` and everything that depends on them."""
    users: Graph = {s: [] for s in graph}
    for s, deps in graph.items():
        for d in deps:
            users[d].append(s)
    return _reach(users, stages)


def out_of_date(root: Path | str, stages: Iterable[str] | None = None) -> set[str]:
    """Stages that ``dvc status`` reports as changed now (changed deps, params or command,
    missing or modified outputs). It cannot see that a downstream stage will change once its
    upstream runs: ``plan`` adds those."""
    status = run_dvc(["status", "--json", *(stages or [])], root).json()
    if not isinstance(status, Mapping):
        raise ValueError(f"unexpected `dvc status --json` output: {status!r:.200}")
    return set(status)


def plan(graph: Graph, targets: Iterable[str] | None, changed: set[str], force: bool = False) -> list[str]:
    """The stages to hand to DVC, in run order: the selected stages (targets and everything
    upstream) that are out of date or downstream of one. DVC still decides whether each of
    them really runs; the rest are up to date by DVC's own account."""
    wanted = upstream(graph, expand_targets(graph, targets)) if targets else set(graph)
    todo = wanted if force else wanted & downstream(graph, changed & wanted)
    return [s for s in graph if s in todo]


def side_by_side(graph: Graph, todo: Iterable[str], parallel: int) -> dict[str, int]:
    """For each stage of ``todo``, the most stages that may be running while it runs: itself and
    those of ``todo`` that neither depend on it nor it on them, at most ``parallel``. A stage
    that the rest wait for (``synthesize``, ``convert``) runs alone and gets 1."""
    todo = list(todo)
    users: Graph = {s: [] for s in graph}
    for s, deps in graph.items():
        for d in deps:
            users[d].append(s)
    out = {}
    for s in todo:
        related = _reach(graph, [s]) | _reach(users, [s])
        out[s] = min(parallel, 1 + sum(t not in related for t in todo))
    return out
