"""Where each file of the official archive lives, once extracted (``<root>/S1/MyPoseFeatures/...``)."""
from __future__ import annotations

from pathlib import Path

from pose3d.h36m.sequences import SequenceInfo

#: Pose feature folders and whether they hold one file per camera.
POSE_FEATURES: dict[str, bool] = {
    "D3_Positions": False,
    "D3_Positions_mono": True,
    "D2_Positions": True,
    "D3_Positions_mono_universal": True,
}
#: Values per joint in each feature's ``Pose`` variable.
FEATURE_DIMS: dict[str, int] = {
    "D3_Positions": 3,
    "D3_Positions_mono": 3,
    "D2_Positions": 2,
    "D3_Positions_mono_universal": 3,
}
#: Official download names (h36m-fetch convention) and the MD5 of each real archive.
ARCHIVE_CATEGORIES: tuple[str, ...] = (
    "Poses_D2_Positions", "Poses_D3_Positions", "Poses_D3_Positions_mono",
    "Poses_D3_Positions_mono_universal", "Videos",
)
ARCHIVE_MD5: dict[str, tuple[str, str, str, str, str]] = {
    "S1": ("69e038858ace96ba5f6c5ccea52e95e8", "d4ae2827d0227dea8c88e6a082763d0a", "4c844740ba583517c74b6c496c190761", "3c75f06fdf3c4f3b8fb1f8f11d18a10e", "d517e6c0b1112427b2a39fcbd732281c"),
    "S5": ("7ac8c4830468a1ed3464076ee9603632", "7a0bd0f458612decc9de0a04e0b589cc", "4e14165ed00b7aff1111a81c1ca4b7b3", "a0c821f5501fcc450e28c38e5ebd0c17", "02ef041813c3a37b137f86df24419e5a"),
    "S6": ("5f9706d5259f648cca802c069dec9681", "0970a30cbc947c3c0454c834db9b84e0", "9681696b33a0d487493330e825b408d6", "dce0fb2f44b487b2bd36f603d1ff894a", "a4b8690e5320c5854f99f60bf31cbabc"),
    "S7": ("543c4053c962db54d1d7361d4accffb4", "abeea2a40650517cefb7cd911caa6472", "807109c1a304ce67c6f0cc06a94846fc", "848717a95a96336ec7707b20ec463965", "79caf93c6ec31b1c14cd1d31d5f292e0"),
    "S8": ("e9de190d782452edc954ac191907adcf", "5695796fe478579ffe9b9ff09203dd27", "da8b6c948e7dcd280061cd4d99d7352f", "8f5182924c29721d9c4227aa43e3d7b3", "18818148e68fcd80fce1efa82f98126d"),
    "S9": ("232c2244afae96cb900908c6825d478c", "fce28bb66bf9908016e2d9738e5cb2db", "0fad285a69fdcdf4958cc4c80d93abbc", "bbc436bc0f35bd09e272ad0ed1f188e2", "3e7d923d5c573ac833334a31b5f8a797"),
    "S11": ("df1fde6b5656729336f54dcd79ab6e47", "729e93d4e50c806f4a55fd1b87e2ff52", "944a8bca62a933f5d630a835868fba23", "c00b5b22ed1b88de5a536433e300503e", "25c25250be8f75d7991dcbf74bb9d339"),
}


def archive_name(category: str, subject: str) -> str:
    """Local name of a downloaded archive, e.g. ``Poses_D3_Positions_S1.tgz``."""
    return f"{category}_{subject}.tgz"


def pose_path(root: Path, subject: str, feature: str, seq: SequenceInfo | str, camera: str | None = None) -> Path:
    """Path of one pose CDF; ``camera`` is required for the per-camera features."""
    if feature not in POSE_FEATURES:
        raise ValueError(f"unknown pose feature {feature!r}")
    base = seq.file_base if isinstance(seq, SequenceInfo) else seq
    per_camera = POSE_FEATURES[feature]
    if per_camera != (camera is not None):
        raise ValueError(f"{feature} {'needs' if per_camera else 'takes no'} camera")
    name = f"{base}.{camera}.cdf" if per_camera else f"{base}.cdf"
    return Path(root) / subject / "MyPoseFeatures" / feature / name


def video_path(root: Path, subject: str, seq: SequenceInfo | str, camera: str) -> Path:
    base = seq.file_base if isinstance(seq, SequenceInfo) else seq
    return Path(root) / subject / "Videos" / f"{base}.{camera}.mp4"


def bbox_path(root: Path, subject: str, seq: SequenceInfo | str, camera: str) -> Path:
    base = seq.file_base if isinstance(seq, SequenceInfo) else seq
    return Path(root) / subject / "MySegmentsMat" / "ground_truth_bb" / f"{base}.{camera}.mat"
