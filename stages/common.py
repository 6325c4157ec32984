"""What every stage does the same way: read params, log, write outputs atomically, record provenance."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

from pose3d.io.atomic import write_bytes
from pose3d.params import ParamsError
from pose3d.params import section as read_section
from pose3d.threads import limit_threads

PARAMS_FILE = Path(os.environ.get("POSE3D_PARAMS", "params.yaml"))


def load_params(path: Path = PARAMS_FILE) -> dict:
    if not path.is_file():
        raise SystemExit(f"{path}: params file is missing (run from the project root)")
    return yaml.safe_load(path.read_text()) or {}


def setup_logging(name: str) -> logging.Logger:
    logging.basicConfig(
        level=os.environ.get("POSE3D_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return logging.getLogger(name)


def start(doc: str, argv: list[str] | None, name: str, **options: dict) -> tuple[argparse.Namespace, logging.Logger, dict]:
    """Parse a stage's command line (``--<option>`` per keyword), set up logging, read params.

    ``name`` may use the parsed options, e.g. ``"train@{experiment}"``.
    """
    ap = argparse.ArgumentParser(description=doc)
    for flag, spec in options.items():
        ap.add_argument(f"--{flag}", **spec)
    args = ap.parse_args(argv)
    log = setup_logging(name.format(**vars(args)))
    try:
        threads = limit_threads()
    except ValueError as exc:
        fail(log, str(exc))
    log.debug("%d threads", threads)
    return args, log, load_params()


def section(params: dict, name: str, log: logging.Logger | None = None):
    """The stage's params section ``name`` as its typed schema object (:mod:`pose3d.params`).

    An unknown key or a wrong type stops the stage with one line naming the file, the key and
    the closest known key, and exit status 1, before anything is written.
    """
    try:
        return read_section(params, name, PARAMS_FILE)
    except ParamsError as exc:
        fail(log or logging.getLogger("params"), str(exc))


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(**extra) -> dict:
    """Versions, git revision and host, stored next to outputs so results can be traced."""
    versions = {}
    for pkg in ("pose3d", "numpy", "cdflib", "h5py", "torch", "dvc"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    return {
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        **extra,
    }


def file_digest(path: Path) -> str:
    """SHA-256 of one file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in ``folder`` by name: identifies the data a checkpoint was trained on."""
    return {path.name: file_digest(path) for path in sorted(Path(folder).iterdir()) if path.is_file()}


def code_digests(packages: tuple[str, ...] = ("pose3d", "stages")) -> dict[str, str]:
    """SHA-256 of the source of every module of ``packages`` this process has imported, by path:
    the code a stage actually ran, for a checkpoint's identity (other code cannot change it)."""
    root = Path(__file__).resolve().parent.parent
    digests = {}
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.split(".")[0] not in packages or not path:
            continue
        path = Path(path).resolve()
        if path.is_file() and path.is_relative_to(root):
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def write_json(path: Path, data: dict) -> None:
    write_bytes(path, (json.dumps(data, indent=1, default=str) + "\n").encode())


def fail(log: logging.Logger, message: str) -> None:
    """Stop the stage with one clear line and a non-zero exit."""
    log.error(message)
    raise SystemExit(1)
