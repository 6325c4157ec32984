"""Markdown tables from DVC's JSON (``dvc metrics show --json``, ``dvc exp show --json``).

Pure functions, so that the flows' artifacts can be checked without a Prefect server. Tables are
transposed (one row per metric or parameter, one column per file or experiment): a handful of
columns stays readable where a hundred would not.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

MISSING = "–"


def _fmt(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def shallow_metrics(data: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level scalars, and the scalars of top-level groups that hold only scalars
    (``{"train": {"loss": ...}}`` → ``train.loss``); per-action or per-joint breakdowns are
    left to the report."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if _is_scalar(value):
            out[key] = value
        elif isinstance(value, Mapping) and value and all(_is_scalar(v) for v in value.values()):
            out.update({f"{key}.{k}": v for k, v in value.items()})
    return out


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def short_names(paths: list[str]) -> list[str]:
    """Paths without their common folder (``data/metrics/fc_1f/eval.json`` → ``fc_1f/eval.json``)."""
    if len(paths) < 2:
        return [os.path.basename(p) for p in paths]
    common = os.path.commonpath(paths)
    return [os.path.relpath(p, common) if common else p for p in paths]


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _by_column(columns: dict[str, dict[str, Any]], only_varying: bool = False) -> list[list[str]]:
    keys: list[str] = []
    for values in columns.values():
        keys += [k for k in values if k not in keys]
    rows = []
    for key in keys:
        cells = [columns[c].get(key) for c in columns]
        if only_varying and len({_fmt(v) for v in cells}) < 2:
            continue
        rows.append([key] + [_fmt(v) for v in cells])
    return rows


def metrics_markdown(shown: Mapping[str, Any]) -> str:
    """``dvc metrics show --json`` → one table: a row per metric, a column per metrics file."""
    files: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for rev in shown.values():
        for path, entry in ((rev or {}).get("data") or {}).items():
            if isinstance(entry, Mapping) and isinstance(entry.get("data"), Mapping):
                files[path] = shallow_metrics(entry["data"])
            elif isinstance(entry, Mapping) and entry.get("error"):
                errors.append(f"- `{path}`: {entry['error']}")
    if not files:
        return "No metrics yet (`dvc metrics show` lists none)."
    names = short_names(list(files))
    table = markdown_table(["metric", *names], _by_column(dict(zip(names, files.values(), strict=True))))
    return table + ("\n\nUnreadable metrics files:\n" + "\n".join(errors) if errors else "")


def _exp_rows(shown: list[Mapping[str, Any]]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """(label, state, data) for each commit of ``dvc exp show --json`` and its experiments."""
    for commit in shown:
        if commit.get("rev") == "workspace":
            continue
        yield commit.get("name") or str(commit.get("rev", ""))[:7], "baseline", commit.get("data") or {}
        for exp in commit.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state") or "success"
            for rev in exp.get("revs") or []:
                yield rev.get("name") or str(rev.get("rev", ""))[:7], state, rev.get("data") or {}


def experiments_markdown(shown: list[Mapping[str, Any]], names: Iterable[str] | None = None) -> str:
    """``dvc exp show --json`` → a row per parameter and metric that differs, a column per
    experiment (``names`` only, when given) next to its baseline commit."""
    wanted = set(names) if names is not None else None
    columns: dict[str, dict[str, Any]] = {}
    for label, state, data in _exp_rows(shown):
        if wanted is not None and state != "baseline" and label not in wanted:
            continue
        values: dict[str, Any] = {"state": state}
        for params in (data.get("params") or {}).values():
            values.update(flatten((params or {}).get("data") or {}))
        for path, entry in (data.get("metrics") or {}).items():
            values.update({f"{path}:{k}": v for k, v in shallow_metrics((entry or {}).get("data") or {}).items()})
        columns[label] = values
    if not columns:
        return "No experiments (`dvc exp show` lists none)."
    rows = _by_column(columns, only_varying=len(columns) > 1)
    return markdown_table(["", *columns], rows)
