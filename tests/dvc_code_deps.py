"""Which project files each DVC stage runs, and which of them its ``deps:`` in dvc.yaml leave out.

A stage whose code changes must re-run, and DVC only knows what ``deps:`` lists. The code a
stage runs is found statically: its command's ``python -m stages.<name>`` module (or a script
the command names), then every project module (``pose3d``, ``stages``, ``pipelines``) imported
from there, transitively, with ``ast`` (imports inside functions and ``if`` blocks count, as
they may run; relative imports resolved). Importing ``a.b.c`` runs ``a/__init__.py`` and
``a/b/__init__.py`` too, so those are needed, except an ``__init__.py`` holding nothing but a
docstring: it cannot change a result, and the check requires it as soon as it gains a statement.

Package data: a module in a package with a ``data/`` folder needs what it names there. A string
constant ``"data/<file>"`` needs that file, a bare ``"data"`` (``Path(__file__).with_name("data")``)
the whole folder; a module naming neither does not need the folder (``pose3d.synth.manifest``
does not read the motion library).

Run ``python -m tests.dvc_code_deps [repo]`` to print the gaps; exit status 1 when there are any.
"""
from __future__ import annotations

import ast
import shlex
import sys
from functools import lru_cache
from pathlib import Path

from tests.dvc_index import format_by_stage, is_data_path, open_repo, stages

PROJECT_PACKAGES = ("pose3d", "stages", "pipelines")


def module_file(root: Path, dotted: str) -> Path | None:
    """The file that ``import dotted`` executes, or None when it is not a project module."""
    if dotted.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _trivial_init(path: Path) -> bool:
    """An ``__init__.py`` that is empty or only a docstring."""
    if path.name != "__init__.py":
        return False
    body = list(_parse(path).body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return not body


def _parse(path: Path) -> ast.Module:
    st = path.stat()
    return _parse_version(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=None)
def _parse_version(path: str, mtime_ns: int, size: int) -> ast.Module:
    """Parsed once per version of the file: twelve stages share most of their modules."""
    return ast.parse(Path(path).read_text(), path)


def imported_modules(root: Path, dotted: str, path: Path) -> set[str]:
    """Dotted names of the project modules that ``path`` (module ``dotted``) imports anywhere."""
    package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            prefix = ".".join(parts[:i])
            if module_file(root, prefix) is not None:
                found.add(prefix)
    return found


def data_files(path: Path) -> set[Path]:
    """Package data that the module at ``path`` names (see the module docstring for the rule)."""
    data_dir = path.parent / "data"
    if not data_dir.is_dir():
        return set()
    needed = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value.rstrip("/")
            if value == "data":
                needed.add(data_dir)
            elif value.startswith("data/"):
                target = path.parent / value
                needed.add(target if target.exists() else data_dir)
    return needed


def command_entries(root: Path, cmd: str) -> tuple[list[str], set[Path]]:
    """What a stage command starts: project modules (``python -m stages.x``, ``python pose3d/y.py``)
    and the scripts it names outside them (``.py``, ``.sh``)."""
    modules, files = [], set()
    tokens = shlex.split(cmd)
    for i, tok in enumerate(tokens):
        if i and tokens[i - 1] == "-m":
            if module_file(root, tok) is not None:
                modules.append(tok)
            continue
        path = (root / tok).resolve()
        if path.suffix not in (".py", ".sh") or not path.is_file() or not path.is_relative_to(root):
            continue
        rel_parts = path.relative_to(root).with_suffix("").parts
        if path.suffix == ".py" and rel_parts[0] in PROJECT_PACKAGES:
            modules.append(".".join(rel_parts))
        else:
            files.add(path)
    return modules, files


def required_files(root: Path, cmd: str) -> set[str]:
    """Files (relative, '/'-separated) the command runs or reads as package data."""
    root = Path(root).resolve()
    todo, files = command_entries(root, cmd)
    for script in [f for f in files if f.suffix == ".py"]:  # a script outside the packages: its imports
        todo += imported_modules(root, script.stem, script)
    todo += [p for m in list(todo) for p in _parents(m)]
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = module_file(root, mod)
        if not _trivial_init(path):
            files.add(path)
        files |= data_files(path)
        todo += imported_modules(root, mod, path) - seen
    return {p.relative_to(root).as_posix() for p in files}


def _parents(mod: str) -> list[str]:
    parts = mod.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def covers(dep: str, file: str) -> bool:
    """A dependency covers a file when it is that file or a folder above it."""
    dep = dep.rstrip("/")
    return file == dep or file.startswith(dep + "/")


def check(root: Path | str) -> dict[str, list[str]]:
    """Problems per stage: files the stage runs that no dep covers, code deps that do not exist,
    and code deps that cover nothing the stage runs (a change there re-runs it for nothing)."""
    root = Path(root).resolve()
    problems: dict[str, list[str]] = {}
    with open_repo(root) as repo:
        all_stages = stages(repo)
        outs = [o for s in all_stages for o in s.outs]
        for st in all_stages:
            need = required_files(root, st.cmd)
            code_deps = [d for d in st.dep_paths if not is_data_path(repo, d, outs)]
            msgs = [f"not in deps: {f}" for f in sorted(need) if not any(covers(d, f) for d in st.dep_paths)]
            for d in code_deps:
                if not (root / d).exists():
                    msgs.append(f"dep does not exist: {d}")
                elif not any(covers(d, f) or covers(f, d) for f in need):
                    msgs.append(f"dep not used by the command: {d}")
            if msgs:
                problems[st.name] = msgs
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    problems = check(args[0] if args else ".")
    if problems:
        print(format_by_stage(problems))
        return 1
    print("dvc.yaml: every stage lists the code it runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
