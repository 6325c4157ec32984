"""Loading VideoPose3D's ``data_3d_h36m.npz`` / ``data_2d_h36m_*.npz`` (what ``convert`` writes).

Both hold 0-d object arrays wrapping nested dicts, exactly as VideoPose3D's loader reads
them: ``np.load(path, allow_pickle=True)['positions_3d'].item()``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def load_3d(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{subject: {key: (N, 32, 3) float32 world metres}}``."""
    return np.load(path, allow_pickle=True)["positions_3d"].item()


def load_2d(path: Path) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict]:
    """``({subject: {key: [4 x (N, J, 2) pixels]}}, metadata)``."""
    data = np.load(path, allow_pickle=True)
    return data["positions_2d"].item(), data["metadata"].item()


def save_2d(path: Path, positions: dict[str, dict[str, list[np.ndarray]]], metadata: dict) -> None:
    """Write ``positions`` and ``metadata`` in the layout :func:`load_2d` (and VideoPose3D) reads.

    Same arrays, same bytes (fixed zip dates); written atomically.
    """
    from pose3d.io.npz import write_npz  # io imports nothing of h36m: no cycle, but keep the reader light

    box = np.empty((), dtype=object)
    box[()] = positions
    meta = np.empty((), dtype=object)
    meta[()] = metadata
    write_npz(path, {"positions_2d": box, "metadata": meta})
