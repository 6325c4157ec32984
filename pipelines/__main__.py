"""Run the flows from a shell, without a deployment.

    python -m pipelines run [-S key=value ...] [--target T ...] [--mode repro|stages|experiment] [--force]
    python -m pipelines sweep --set 'train.lr=0.001' --set 'train.lr=0.0005,train.epochs=4' [--jobs 2]

Overrides and targets are checked before Prefect starts, so a typo costs a second, not a
server start. Without PREFECT_API_URL, Prefect starts a temporary local server for the run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _overrides(items: list[str]) -> dict:
    from pipelines.overrides import parse_assignment

    out = {}
    for item in items:
        key, value = parse_assignment(item)
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the h36m-pipeline flow")
    run.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    run.add_argument("--target", action="append", default=[], help="stage, stage group or experiment name")
    run.add_argument("--mode", choices=["repro", "stages", "experiment"], default="repro")
    run.add_argument("--force", action="store_true")
    run.add_argument("--parallel", type=int, default=2)
    run.add_argument("--name", help="experiment name (mode experiment)")
    sweep = sub.add_parser("sweep", help="the h36m-sweep flow")
    sweep.add_argument("--set", action="append", required=True, metavar="K=V[,K=V...]",
                       help="one experiment's overrides, comma-separated; repeat per experiment")
    sweep.add_argument("--jobs", type=int, default=1)
    sweep.add_argument("--target", action="append", default=[])
    for p in (run, sweep):
        p.add_argument("--workdir", default=".", help="project checkout (default: here)")
    args = ap.parse_args(argv)

    from pipelines import dvc_graph
    from pipelines.overrides import OverrideError, check_file

    workdir = str(Path(args.workdir).resolve())
    try:
        if args.command == "run":
            sets = [_overrides(args.set)]
        else:
            sets = [_overrides([kv for kv in group.split(",") if kv.strip()]) for group in args.set]
        for overrides in sets:
            check_file(Path(workdir) / "params.yaml", overrides)
        dvc_graph.expand_targets(dvc_graph.stage_graph(workdir), args.target)
    except (OverrideError, dvc_graph.UnknownTarget) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from pipelines.flows import h36m_pipeline, h36m_sweep

    if args.command == "run":
        state = h36m_pipeline(overrides=sets[0], targets=args.target, force=args.force, mode=args.mode,
                              parallel=args.parallel, experiment_name=args.name, workdir=workdir,
                              return_state=True)
    else:
        state = h36m_sweep(override_sets=sets, jobs=args.jobs, targets=args.target, workdir=workdir,
                           return_state=True)
    print(f"{state.name}: {state.message or ''}".rstrip(": "))
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
