"""Does the committed dvc.lock still describe the code and params in the checkout?

``dvc repro`` re-runs a stage when a dependency's hash or a params value differs from dvc.lock,
so a lock that no longer matches the source means a clean clone re-runs (or, after ``dvc pull``,
re-computes) stages nobody changed. Only what git carries is compared: source deps (files and
folders that are not pipeline data, see ``tests.dvc_index.is_data_path``), params values and the
command; data deps do not exist in a clean clone.

Hashes are DVC's own (dvc_data's ``build``, the function ``dvc status`` calls, with the
repository's ``.dvcignore`` and the lock's hash name: ``md5`` in DVC 3, ``md5-dos2unix`` for older
entries), computed without the state database or the repository lock, so the check runs while
a ``dvc repro`` holds it.

Run ``python -m tests.dvc_lock_check [repo]`` to print the stages that disagree; exit status 1
when there are any.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml

from tests.dvc_index import format_by_stage, is_data_path, open_repo, rel, stages


def dvc_hash(repo, dep) -> str:
    """The hash ``dvc status`` computes for a dependency now (``<md5>`` or ``<md5>.dir``)."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs import LocalFileSystem

    with tempfile.TemporaryDirectory() as tmp:  # build() stages tree objects in an object db
        odb = HashFileDB(LocalFileSystem(), tmp)
        _, _, obj = build(odb, dep.fs_path, dep.fs, dep.hash_name, ignore=repo.dvcignore, dry_run=True)
    return obj.hash_info.value


def stale(root: Path | str) -> dict[str, list[str]]:
    """Per stage, each way dvc.lock disagrees with the checkout's source deps, params and command.

    Entries read ``modified: <path>``, ``deleted: <path>``, ``new: <path>`` (listed in dvc.yaml,
    absent from the lock; ``dvc status`` calls it modified), ``params.yaml: <key> modified|new|deleted``,
    ``command changed`` or ``not in dvc.lock``. A lock entry for a dep no longer listed is not
    reported: ``dvc status`` and ``dvc repro`` ignore it too.
    """
    from dvc.dependency import ParamsDependency

    root = Path(root).resolve()
    lock_path = root / "dvc.lock"
    lock = (yaml.safe_load(lock_path.read_text()) if lock_path.exists() else None) or {}
    locked_stages = lock.get("stages", {})
    out: dict[str, list[str]] = {}
    with open_repo(root) as repo:
        all_stages = stages(repo)
        outs = [o for s in all_stages for o in s.outs]
        for st in all_stages:
            locked = locked_stages.get(st.name)
            if locked is None:
                out[st.name] = ["not in dvc.lock"]
                continue
            msgs = [] if locked.get("cmd") == st.cmd else ["command changed"]
            for dep in st.deps:
                if isinstance(dep, ParamsDependency):
                    for file, keys in dep.workspace_status().items():
                        msgs += [f"{file}: {keys}"] if isinstance(keys, str) else [f"{file}: {k} {v}" for k, v in keys.items()]
                    continue
                path = rel(dep.fs_path, root)
                if is_data_path(repo, path, outs):
                    continue
                if dep.hash_info is None or dep.hash_info.value is None:
                    msgs.append(f"new: {path}")
                elif not Path(dep.fs_path).exists():
                    msgs.append(f"deleted: {path}")
                elif dvc_hash(repo, dep) != dep.hash_info.value:
                    msgs.append(f"modified: {path}")
            if msgs:
                out[st.name] = msgs
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    problems = stale(args[0] if args else ".")
    if problems:
        print("dvc.lock disagrees with the checkout (run `dvc repro` and commit dvc.lock):")
        print(format_by_stage(problems))
        return 1
    print("dvc.lock matches the code and params of the checkout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
