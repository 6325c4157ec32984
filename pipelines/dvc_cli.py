"""Running DVC commands as subprocesses, line by line.

Subprocesses, not ``dvc.repo.Repo`` calls: DVC in-process is not thread-safe, and the stage
tasks of one flow run side by side. ``python -m dvc`` with this interpreter, not ``dvc`` from
PATH, because a Prefect worker's PATH need not contain the virtual environment's ``bin/``; the
same directory goes first on the stages' PATH, since dvc.yaml commands call ``python``.

Stages started side by side get their share of the cores through ``POSE3D_THREADS``
(:func:`side_by_side_env`): each stage sizes its thread pools from it, so two trainings on a
2-core machine take one core each instead of spin-waiting for each other.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose3d.threads import THREADS_ENV, share_of_cores

#: what DVC prints when another DVC process holds the repository lock (dvc/lock.py)
LOCK_MESSAGE = "Unable to acquire lock"
#: lines of output kept for an error message
TAIL_LINES = 25


class DvcLockBusy(RuntimeError):
    """Another DVC process held the repository lock: worth retrying."""


class DvcFailed(RuntimeError):
    """A DVC command (often: a stage's own command) failed; the message ends with its output."""


@dataclass(frozen=True)
class DvcResult:
    args: tuple[str, ...]
    returncode: int
    lines: tuple[str, ...]

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def json(self) -> Any:
        """The JSON document of a ``--json`` command: its last line (not a TTY: one line),
        after any warnings DVC printed."""
        line = next((ln for ln in reversed(self.lines) if ln.startswith(("{", "["))), None)
        if line is None:
            raise DvcFailed(f"dvc {' '.join(self.args)} printed no JSON:\n{self.output[-2000:]}")
        return json.loads(line)

    def stages_run(self) -> list[str]:
        """Stages whose command DVC ran (``Running stage 'x':``), in order."""
        return [line.split("'")[1] for line in self.lines if line.startswith("Running stage '")]


def side_by_side_env(concurrent: int, cores: int | None = None) -> dict[str, str]:
    """Variables for each of ``concurrent`` DVC processes running stages at once: its share of
    the cores as ``POSE3D_THREADS``. Nothing for one at a time, so a stage alone takes every core."""
    if concurrent <= 1:
        return {}
    return {THREADS_ENV: str(share_of_cores(concurrent, cores))}


def dvc_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the interpreter's directory first on PATH, ``extra`` on top."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("TQDM_MININTERVAL", "10")  # progress bars of stages: a line every 10 s, not every batch
    env.update(extra or {})
    return env


def run_dvc(args: Sequence[str], cwd: Path | str, on_line: Callable[[str], None] | None = None,
            check: bool = True, env: dict[str, str] | None = None) -> DvcResult:
    """Run ``dvc <args>`` in ``cwd``, passing each output line (stdout and stderr merged) to
    ``on_line`` as it comes; ``env`` adds variables to DVC's environment (and its stages').
    With ``check``, a lock conflict raises ``DvcLockBusy`` and any other failure ``DvcFailed``
    carrying the last lines of output."""
    cmd = [sys.executable, "-m", "dvc", *args]
    lines: list[str] = []
    with subprocess.Popen(cmd, cwd=cwd, env=dvc_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:  # universal newlines: tqdm's \r updates arrive as lines too
            line = raw.rstrip()
            if not line.strip():
                continue
            lines.append(line)
            if on_line is not None:
                on_line(line)
        returncode = proc.wait()
    result = DvcResult(tuple(args), returncode, tuple(lines))
    if check and returncode != 0:
        tail = "\n".join(deque(lines, maxlen=TAIL_LINES))
        what = f"dvc {' '.join(args)} (in {cwd})"
        if any(LOCK_MESSAGE in line for line in lines):
            raise DvcLockBusy(f"{what}: the DVC repository lock is held by another process:\n{tail}")
        raise DvcFailed(f"{what} failed with exit code {returncode}:\n{tail}")
    return result
