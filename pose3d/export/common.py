"""What every export shares: its inputs, its settings, its errors and the README beside the files."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, Exclusions, SequencesCsvError, read_exclusions
from pose3d.h36m.vp3d_format import load_2d, load_3d
from pose3d.io.atomic import write_bytes
from pose3d.video.subject import INDEX_FILE


class ExportError(Exception):
    """An input an export cannot be made from; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


@dataclass(frozen=True)
class ExportSettings:
    """A format's settings. The split is the seeds' own: each of their loaders hard-codes it."""

    train_subjects: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
    test_subjects: tuple[str, ...] = ("S9", "S11")
    jpeg_qscale: int = 3  # ffmpeg -qscale:v of the exported images (h36m-fetch extracts with 3)
    mmpose_sample_rate: int = 5  # mmpose's --sample-rate: every 5th frame -> annotation_body3d/fps10


@dataclass(frozen=True)
class Inputs:
    """Where the pipeline's outputs are; arrays are loaded once, on first use."""

    poses_dir: Path = Path("data/processed/poses")
    frames_dir: Path = Path("data/processed/frames")
    priors_dir: Path = Path("data/processed/priors")

    @property
    def poses_3d_path(self) -> Path:
        return self.poses_dir / "data_3d_h36m.npz"

    @property
    def poses_2d_path(self) -> Path:
        return self.poses_dir / "data_2d_h36m_gt.npz"

    @cached_property
    def poses_3d(self) -> dict[str, dict[str, np.ndarray]]:
        """{subject: {key: (N, 32, 3) float32 world metres}}."""
        return load_3d(require(self.poses_3d_path, "3D poses", "convert"))

    @cached_property
    def poses_2d(self) -> dict[str, dict[str, list[np.ndarray]]]:
        """{subject: {key: [4 x (N, 17, 2) float32 pixels]}}."""
        return load_2d(require(self.poses_2d_path, "2D poses", "convert"))[0]

    def poses_2d_files(self) -> list[Path]:
        """The ground-truth 2D file, then every other VideoPose3D-format 2D source beside it (detections)."""
        gt = require(self.poses_2d_path, "2D poses", "convert")
        return [gt] + sorted(p for p in self.poses_dir.glob("data_2d_h36m_*.npz") if p != gt)

    @cached_property
    def exclusions(self) -> Exclusions:
        """What ``convert`` excluded, from its ``sequences.csv``."""
        try:
            return read_exclusions(require(self.poses_dir / SEQUENCES_CSV, "sequence table", "convert"))
        except SequencesCsvError as exc:
            raise ExportError(exc.path, exc.problem) from exc

    def frame_folders(self) -> list[Path]:
        """The ``frames@<S>`` output folders present (subjects without videos have none)."""
        if not self.frames_dir.is_dir():
            return []
        return sorted(p for p in self.frames_dir.iterdir() if p.is_dir() and (p / INDEX_FILE).is_file())


def require(path: Path, what: str, stage: str) -> Path:
    if not Path(path).is_file():
        raise ExportError(path, f"{what} missing (run the {stage} stage first)")
    return Path(path)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, text.encode())


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (no bytes copied), or copy it where links cannot be made."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def folder_size(folder: Path) -> tuple[int, int]:
    """(files, bytes) under ``folder``, each hard-linked file counted once."""
    seen, files, size = set(), 0, 0
    for path in Path(folder).rglob("*"):
        if path.is_file():
            st = path.stat()
            files += 1
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                size += st.st_size
    return files, size
