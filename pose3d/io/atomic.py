"""Replace a file or folder all at once: write a hidden temporary beside it, then rename over it.

A reader (or an interrupted stage) sees the old output or the new one, never half of one.
The temporary file is ``.tmp-<random>-<name>``: unique per call, so concurrent writers never
share one, and it ends in the target's own name, so a library that adds a missing extension
(cdflib adds ``.cdf``) writes where it was told.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class Replacement:
    """A temporary for ``path`` that a writer fills over several calls, then :meth:`commit` s or
    :meth:`discard` s: for writers whose opening and closing are separate calls (a shard written
    frame by frame, a file that worker processes fill in place). Otherwise use :func:`replacing`.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".tmp-{secrets.token_hex(4)}-{self.path.name}")

    def commit(self) -> None:
        """Rename the finished temporary over ``path``."""
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Remove the temporary, if any (a no-op after :meth:`commit`)."""
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on error it is removed."""
    r = Replacement(path)
    try:
        yield r.tmp
        r.commit()
    finally:
        r.discard()


def write_bytes(path: Path | str, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def replacing_dir(path: Path | str) -> Iterator[Path]:
    """Yield a new, empty temporary folder beside ``path``; on success it replaces ``path`` whole.

    On error the temporary folder is removed and ``path`` is left as it was (a stage's output
    folder: absent, as DVC removed it before the stage ran), so no half output remains. The
    folder comes from ``mkdtemp``: created exclusively, so a folder left by a killed run is never
    reused (and, as ``mkdtemp`` makes it, with mode 0700).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
