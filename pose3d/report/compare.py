"""What changed between the workspace and another revision: tables from DVC's diff JSON.

The library never calls DVC; the report stage runs ``dvc params diff --json <rev>`` and
``dvc metrics diff --json <rev>`` and hands their parsed output here. Both map
``{file: {key: {"old": ..., "new": ..., ["diff": ...]}}}``.
"""
from __future__ import annotations

import numbers
import re

from pose3d.report.document import Table

#: Headline metrics first, in the results table's order.
_ORDER = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck150", "auc")
_SET_KEY = re.compile(r"^test_sets\.[^.]+\.(.+)$")


def _entries(diff: dict | None) -> list[tuple[str, str, dict]]:
    if not isinstance(diff, dict):
        return []
    return [(str(f), str(k), v) for f, keys in sorted(diff.items()) if isinstance(keys, dict)
            for k, v in keys.items() if isinstance(v, dict)]


def _value(v):
    if isinstance(v, (list, dict)):
        return str(v)
    return v


def _param(v) -> str:
    """A parameter as params.yaml spells it (0.1, not 0.100000); 'absent' where one side lacks the key."""
    if v is None:
        return "absent"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def params_table(diff: dict | None, rev: str) -> Table:
    entries = _entries(diff)
    several = len({f for f, _, _ in entries}) > 1
    rows = [[*([f] if several else []), k, _param(v.get("old")), _param(v.get("new"))]
            for f, k, v in sorted(entries, key=lambda e: (e[0], e[1]))]
    columns = [*(["File"] if several else []), "Param", rev, "workspace"]
    return Table(columns, rows, title=f"Params changed since {rev}",
                 note="" if rows else "No parameter differs.")


def _metric_rows(entries: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """Drop per-test-set copies (``test_sets.test.mpjpe``) that repeat the file's headline entry."""
    top = {(f, k): (v.get("old"), v.get("new")) for f, k, v in entries}
    kept = []
    for f, k, v in entries:
        m = _SET_KEY.match(k)
        if m and top.get((f, m.group(1))) == (v.get("old"), v.get("new")):
            continue
        kept.append((f, k, v))
    return kept


def _rank(key: str) -> tuple:
    base = key.split(".")[-1]
    return (key.startswith("test_sets."), _ORDER.index(base) if base in _ORDER else len(_ORDER), key)


def metrics_table(diff: dict | None, rev: str) -> Table:
    entries = _metric_rows(_entries(diff))
    entries.sort(key=lambda e: (e[0], _rank(e[1])))
    rows = []
    for f, k, v in entries:
        old, new = v.get("old"), v.get("new")
        change = v.get("diff")
        if change is None and isinstance(old, numbers.Real) and isinstance(new, numbers.Real) \
                and not isinstance(old, bool) and not isinstance(new, bool):
            change = new - old
        rows.append([f, k, _value(old), _value(new), change])
    return Table(["File", "Metric", rev, "workspace", "Change"], rows, title=f"Metrics changed since {rev}",
                 digits=3, note="" if rows else "No metric differs.")


def comparison_tables(rev: str, params_diff: dict | None, metrics_diff: dict | None) -> list[Table]:
    return [params_table(params_diff, rev), metrics_table(metrics_diff, rev)]
