"""The export formats by name, in the order params.yaml lists them."""
from __future__ import annotations

from types import ModuleType

from pose3d.export import integral, learnable_triangulation, mmpose, poseaug, videopose3d

FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (videopose3d, poseaug, learnable_triangulation, integral, mmpose)}
