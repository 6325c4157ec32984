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
