"""The pipeline's stages as DVC itself expands them, and which of their dependencies are source code.

Both dvc.yaml checks (complete code deps, a true dvc.lock) read the stages through DVC's own
index, so ``foreach`` items (``train@fc_1f``, ``frames@S1``) and ``${...}`` paths come out exactly
as ``dvc repro`` sees them. Loading the index only reads files: it takes no repository lock, so
the checks run beside a ``dvc repro``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StageInfo:
    """One expanded stage: its name, command, and dependency paths relative to the repository."""

    name: str
    cmd: str
    deps: list = field(default_factory=list)  # DVC Dependency objects, with the lock's hashes filled in
    dep_paths: list[str] = field(default_factory=list)  # relative, '/'-separated; params deps excluded
    outs: list[str] = field(default_factory=list)


def open_repo(root: Path | str):
    """A DVC Repo for reading; the caller closes it."""
    from dvc.repo import Repo

    return Repo(str(Path(root).resolve()))


def rel(path: str, root: Path) -> str:
    """``path`` relative to ``root`` with '/' separators (absolute when outside ``root``)."""
    r = os.path.relpath(path, root)
    return Path(path).as_posix() if r.startswith("..") else Path(r).as_posix()


def stages(repo) -> list[StageInfo]:
    """Every stage of the repository's dvc.yaml, ``foreach`` items expanded, in file order."""
    from dvc.dependency import ParamsDependency

    root = Path(repo.root_dir)
    out = []
    for st in repo.index.stages:
        name = getattr(st, "name", None) or rel(st.path, root)
        info = StageInfo(name=name, cmd=st.cmd if isinstance(st.cmd, str) else " && ".join(st.cmd))
        for dep in st.deps:
            info.deps.append(dep)
            if not isinstance(dep, ParamsDependency):
                info.dep_paths.append(rel(dep.fs_path, root))
        info.outs = [rel(o.fs_path, root) for o in st.outs]
        out.append(info)
    return out


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def is_data_path(repo, path: str, all_outs: list[str]) -> bool:
    """A dependency that is pipeline data rather than source: outside the repository, ignored by
    git (``data/``), or equal to, inside or above a stage output."""
    if path.startswith("/") or path.startswith(".."):
        return True
    if any(_overlaps(path, o) for o in all_outs):
        return True
    if type(repo.scm).__name__ == "NoSCM":  # no git (a source tarball before `make init`): the layout
        return path == "data" or path.startswith("data/")
    return bool(repo.scm.is_ignored(str(Path(repo.root_dir) / path)))


def format_by_stage(problems: dict[str, list[str]]) -> str:
    """``stage:`` then each of its lines indented, one block per stage."""
    return "\n".join(f"{stage}:\n" + "\n".join(f"  {m}" for m in msgs) for stage, msgs in problems.items())
