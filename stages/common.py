"""What every stage does the same way: read params, log, write outputs atomically, record provenance."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import yaml

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
    return args, setup_logging(name.format(**vars(args))), load_params()


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


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``target`` whole.

    On any error the temporary folder is removed and ``target`` is left absent (DVC
    removed it before the stage ran), so a failed stage never leaves half an output.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in ``folder`` by name: identifies the data a checkpoint was trained on."""
    digests = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
            digests[path.name] = digest.hexdigest()
    return digests


def write_json(path: Path, data: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(path)


def fail(log: logging.Logger, message: str) -> None:
    """Stop the stage with one clear line and a non-zero exit."""
    log.error(message)
    raise SystemExit(1)
