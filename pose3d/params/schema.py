"""Every section of params.yaml as typed defaults, in one place.

The defaults equal the committed params.yaml (tests/test_params.py compares them key by key),
so deleting a key from the file never changes what a stage does. ``X | None`` marks a key that
may be null; ``Literal`` lists the allowed words. ``experiments`` and ``extra_experiments``
are not here: each entry is the ``train`` section overlaid with the entry and is checked per
model where it is resolved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ALL_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")

#: metadata of a key whose value YAML may read as a number though it is a name (a short git hash)
NAME = {"numbers_as_text": True}
#: metadata of ``priors.source``: the value must match ``pattern`` whole (``expect`` words it for the message)
PELVIS_SOURCE = {"pattern": r"triangulation|algebraic:[A-Za-z0-9_.-]+",
                 "expect": "'triangulation' or 'algebraic:<experiment>'"}


@dataclass(frozen=True)
class Dataset:
    source: Literal["synthetic", "real"] = "synthetic"
    raw_dir: str = "data/raw/synthetic"
    subjects: tuple[str, ...] = ALL_SUBJECTS
    train_subjects: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
    test_subjects: tuple[str, ...] = ("S9", "S11")
    exclude: tuple[str, ...] = ("s11_directions",)  # rule names of pose3d.h36m.sequences
    verify_md5: bool = True


@dataclass(frozen=True)
class Videos:
    """``synthesize.videos``: the sequences that also get rendered videos and masks."""

    enabled: bool = True
    subjects: tuple[str, ...] | Literal["all"] = "all"
    actions: tuple[str, ...] | Literal["all"] = ("Directions", "Walking")
    cameras: tuple[int | str, ...] = (0, 1, 2, 3)  # indices 0..3 or camera ids
    scale: float = 0.25
    crf: int = 23


@dataclass(frozen=True)
class Synthesize:
    profile: str = "default"  # a name of pose3d.synth.profiles.PROFILES
    seed: int = 0
    workers: int | None = None  # null: all cores
    dask_address: str | None = None
    videos: Videos = Videos()


@dataclass(frozen=True)
class Convert:
    reproj_tol_px: float = 0.05
    check_mono: bool = False
    mono_tol_mm: float = 0.1
    workers: int | None = None
    dask_address: str | None = None


@dataclass(frozen=True)
class Frames:
    subjects: tuple[str, ...] = ALL_SUBJECTS  # what dvc.yaml's foreach runs over
    every_n: int = 5
    test_every_n: int = 16
    crop: int = 128
    margin: float = 0.1
    joints_margin: float = 0.25
    undistort: bool = False
    boxes: Literal["auto", "masks", "joints"] = "auto"
    encoding: Literal["jpeg", "raw"] = "jpeg"
    jpeg_qscale: int = 3
    decoder_threads: int = 1
    workers: int | None = None
    dask_address: str | None = None


@dataclass(frozen=True)
class Priors:
    input_2d: str = field(default="noisy", metadata=NAME)  # an entry of inputs_2d
    ransac: bool = True
    ransac_threshold_px: float = 15.0
    camera_weights: tuple[float, ...] | None = None  # null: all views weigh 1
    workers: int | None = None
    dask_address: str | None = None
    # where the pelvis priors come from: the triangulation, or an algebraic experiment's predictions
    source: str = field(default="triangulation", metadata=PELVIS_SOURCE)


@dataclass(frozen=True)
class Train:
    """The common training settings every experiment starts from (pose3d.training.loop.TrainConfig
    and the stage's own keys)."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N; auto is resolved at run time
    epochs: int = 8
    frame_stride: int = 10
    batch_size: int = 512
    lr: float = 0.002
    lr_decay: float = 0.8
    seed: int = 4321
    flip: bool = True
    amp: bool = True
    bn_recalibrate: int = 20
    val_max_views: int = 48
    val_subjects: tuple[str, ...] | None = None  # None: the last of dataset.train_subjects
    nproc: int = 1
    # not set in params.yaml's train section (each experiment names its loss and recipe)
    loss: str = "mpjpe"  # a name of pose3d.training.losses.LOSSES; experiments may give {term: weight}
    bn_momentum_start: float = 0.1
    bn_momentum_end: float = 0.001
    optimizer: Literal["adam", "adamw"] = "adam"
    amsgrad: bool = True
    weight_decay: float = 0.0
    schedule: Literal["exponential", "rsnet", "step", "multistep"] = "exponential"
    lr_decay_large: float = 0.5
    large_decay_epoch: int = 5
    step_size: int = 1
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()
    bn_schedule: tuple[str, ...] = ("*",)
    input_2d: str = field(default="gt", metadata=NAME)  # an entry of inputs_2d
    eval_input_2d: str | None = field(default=None, metadata=NAME)  # None: input_2d
    use_scores: bool = False


#: the corruptions of the robustness sweep (pose3d.detections.corruptions): unset settings are 0
ROBUSTNESS: dict[str, dict[str, Any]] = {
    "noisy": {"sigma_px": 3.0, "outlier_prob": 0.01, "outlier_px": 100.0, "swap_prob": 0.005, "seed": 0},
    "jitter_5px": {"sigma_px": 5.0},
    "jitter_10px": {"sigma_px": 10.0},
    "jitter_20px": {"sigma_px": 20.0},
    "outliers_10pct": {"outlier_prob": 0.1, "outlier_px": 100.0},
    "swaps_10pct": {"swap_prob": 0.1},
    "missing_10pct": {"missing_prob": 0.1, "fill": "interpolate"},
}


@dataclass(frozen=True)
class Evaluate:
    tta: bool = True
    checkpoint: Literal["last", "best"] = "last"
    # name -> noise-model settings (pose3d.detections.corruptions); checked there
    robustness: dict[str, Any] = field(default_factory=lambda: {k: dict(v) for k, v in ROBUSTNESS.items()})
    robustness_stride: int = 20


@dataclass(frozen=True)
class Detect:
    """``detect@<experiment>``: a keypoints2d experiment over every video frame (pose3d.images.detect)."""

    experiments: tuple[str, ...] = ("kp2d_r18",)  # entries of image_experiments with model keypoints2d
    flip_test: bool = False
    batch_size: int = 128
    workers: int | None = None
    dask_address: str | None = None


@dataclass(frozen=True)
class Report:
    compare: str | None = field(default=None, metadata=NAME)  # git revision or DVC experiment
    clip_action: str = "Walking"
    clip_frames: int = 48
    clip_stride: int = 2
    worst_frames: int = 3
    crop_samples: int = 4


EXPORT_FORMATS = ("videopose3d", "poseaug", "learnable_triangulation", "integral", "mmpose")


@dataclass(frozen=True)
class NoExportSettings:
    """A format with nothing to set: its section exists so that dvc.yaml can list ``export.<format>``."""


@dataclass(frozen=True)
class ImageExport:
    jpeg_qscale: int = 3  # exported images, ffmpeg -qscale:v (h36m-fetch extracts with 3)


@dataclass(frozen=True)
class MmposeExport:
    jpeg_qscale: int = 3
    sample_rate: int = 5  # mmpose's --sample-rate: every 5th frame -> annotation_body3d/fps10


@dataclass(frozen=True)
class Export:
    """One subsection per format, so that a change re-runs only that format's export@ stage."""

    formats: tuple[Literal["videopose3d", "poseaug", "learnable_triangulation", "integral", "mmpose"], ...] = EXPORT_FORMATS
    videopose3d: NoExportSettings = NoExportSettings()
    poseaug: NoExportSettings = NoExportSettings()
    learnable_triangulation: ImageExport = ImageExport()
    integral: ImageExport = ImageExport()
    mmpose: MmposeExport = MmposeExport()


#: section name -> its schema, in params.yaml's order
SECTIONS: dict[str, type] = {
    "dataset": Dataset,
    "synthesize": Synthesize,
    "convert": Convert,
    "frames": Frames,
    "priors": Priors,
    "export": Export,
    "train": Train,
    "evaluate": Evaluate,
    "detect": Detect,
    "report": Report,
}
#: top-level sections whose entries are checked elsewhere (pose3d/experiments.py); ``phases`` are
#: experiments that continue another one's weights (``from``)
EXPERIMENT_SECTIONS = ("experiments", "phases", "extra_experiments", "extra_phases")
#: image experiments, checked by pose3d.images.config
IMAGE_SECTIONS = ("image_experiments", "extra_image_experiments")
#: multi-view experiments, checked by pose3d.multiview.config
MULTIVIEW_SECTIONS = ("algebraic_experiments", "volumetric_experiments", "extra_multiview_experiments")
#: the named 2D sources, checked by pose3d.detections.sources
INPUT_SECTIONS = ("inputs_2d",)
