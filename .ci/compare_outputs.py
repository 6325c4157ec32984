"""After ``make repro`` on a clean clone: do the data outputs hash as the committed ``dvc.lock`` says?

The lock is the record of what produced the data, so a fresh run of the same code and params must
write the same bytes. Three kinds of output are not compared byte for byte, by design:

- ``*.provenance.json``: host, time and git revision of the run;
- DVCLive's per-step plot files (``data/metrics/<name>/train/plots``): they carry wall-clock timestamps;
- ``data/reports``: the report prints the git revision and run times.

Trained models and the files computed from them (``data/models/<name>``, ``data/metrics/<name>/...``,
a detector's detections and the 2D source made of them) are expected to be byte-identical on a machine of the same kind with the same thread count (CPU
torch is deterministic there). When they are not, the run still passes if every headline metric in
``eval.json`` is within ``TOLERANCE_MM`` of the value recorded in ``.ci/expected_metrics.json``
(written with ``--record``), and the difference is printed.

Usage: ``python .ci/compare_outputs.py COMMITTED_LOCK [NEW_LOCK]`` (exit 1 on a mismatch);
``python .ci/compare_outputs.py --record`` writes the expected metrics from ``data/metrics``.
"""
from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / ".ci" / "expected_metrics.json"
#: outputs whose bytes record the run rather than its result
NOT_COMPARED = ("*.provenance.json", "data/metrics/*/train/plots/*", "data/reports")
#: outputs of training (and a detector's output on every frame, and the 2D source made of it), compared
#: by their metrics when their bytes differ
TRAINED = ("data/models/*", "data/metrics/*", "data/processed/detections/*", "data/processed/inputs_2d/kp2d_*")
#: headline metrics of eval.json and how far a re-run may move them (millimetres; pck/auc as fractions)
TOLERANCE_MM = 0.5
METRICS = {"mpjpe": TOLERANCE_MM, "p_mpjpe": TOLERANCE_MM, "n_mpjpe": TOLERANCE_MM, "mpjve": TOLERANCE_MM,
           "pck150": 0.005, "auc": 0.005}


def outs(lock_path: Path) -> dict[str, str]:
    """Every output path of the lock with its hash."""
    lock = yaml.safe_load(Path(lock_path).read_text()) or {}
    found = {}
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            found[out["path"]] = out.get("md5") or out.get("hash") or ""
    return found


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + "/*") for p in patterns)


def eval_metrics(root: Path = ROOT) -> dict[str, dict[str, float]]:
    """Headline metrics of every experiment's eval.json under ``data/metrics``."""
    found = {}
    for path in sorted((root / "data" / "metrics").glob("*/eval.json")):
        data = json.loads(path.read_text())
        found[path.parent.name] = {k: float(data[k]) for k in METRICS if isinstance(data.get(k), (int, float))}
    return found


def compare(committed: Path, new: Path, root: Path = ROOT) -> list[str]:
    """Lines describing every disagreement that fails the run (empty: reproduced)."""
    old, now = outs(committed), outs(new)
    problems, drifted = [], []
    for path, digest in sorted(old.items()):
        if _matches(path, NOT_COMPARED):
            continue
        if path not in now:
            problems.append(f"{path}: in the committed dvc.lock, not produced by this run")
        elif now[path] != digest:
            (drifted if _matches(path, TRAINED) else problems).append(
                f"{path}: {now[path]} (committed {digest})")
    for path in sorted(set(now) - set(old)):
        if not _matches(path, NOT_COMPARED):
            problems.append(f"{path}: produced by this run, absent from the committed dvc.lock")
    if drifted:
        print("trained outputs that are not byte-identical:\n  " + "\n  ".join(drifted))
        problems += metric_drift(root)
    return problems


def metric_drift(root: Path = ROOT) -> list[str]:
    """Metrics further than their tolerance from ``expected_metrics.json``."""
    if not EXPECTED.is_file():
        return [f"{EXPECTED.relative_to(ROOT)}: missing, so trained outputs that differ cannot be checked"]
    expected = json.loads(EXPECTED.read_text())
    got = eval_metrics(root)
    problems = []
    for name, values in expected.items():
        for key, value in values.items():
            new = got.get(name, {}).get(key)
            if new is None:
                problems.append(f"{name}: {key} missing from data/metrics/{name}/eval.json")
            elif abs(new - value) > METRICS[key]:
                problems.append(f"{name}: {key} {new:.4f}, recorded {value:.4f} (tolerance {METRICS[key]})")
            else:
                print(f"  {name}: {key} {new:.4f}, recorded {value:.4f}: within {METRICS[key]}")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["--record"]:
        EXPECTED.write_text(json.dumps(eval_metrics(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {EXPECTED.relative_to(ROOT)}")
        return 0
    if not argv:
        print(__doc__)
        return 2
    committed = Path(argv[0])
    new = Path(argv[1]) if len(argv) > 1 else ROOT / "dvc.lock"
    problems = compare(committed, new)
    if problems:
        print("make repro did not reproduce the committed dvc.lock:\n  " + "\n  ".join(problems))
        return 1
    print(f"make repro reproduced every compared output of {committed.name} ({len(outs(committed))} outputs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
