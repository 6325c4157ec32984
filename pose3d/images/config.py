"""Image experiments of params.yaml (``image_experiments:``): a model family, its network and its recipe.

An entry overlays :class:`ImageRun` (the defaults, sized for a CPU) with its own keys; an unknown
key is an error with the closest known one. ``model`` is ``keypoints2d`` (crop -> 17 heatmaps) or
``integral`` (crop -> 17 depth x height x width volumes). The recipe defaults are Integral's
(Adam without weight decay at 1e-3, x0.1 at the milestones, Integral's augmentation), shortened.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from pose3d.models.integral import Integral
from pose3d.models.keypoints2d import Keypoints2D
from pose3d.params.overlay import overlay
from pose3d.training.loop import TrainConfig

#: image model families -> network classes
FAMILIES: dict[str, type[nn.Module]] = {"keypoints2d": Keypoints2D, "integral": Integral}
#: the sections of params.yaml that hold image experiments (only the first runs by default)
SECTIONS = ("image_experiments", "extra_image_experiments")


@dataclass(frozen=True)
class ImageRun:
    model: str = "keypoints2d"
    resnet: int = 18
    head_filters: int = 64
    head_layers: int = 3
    depth_bins: int = 16  # integral only
    decode: str = "soft_argmax"  # keypoints2d at test time: soft_argmax | argmax (refined a quarter pixel)
    input_size: int = 64  # network input, pixels (crops are resized on the device)
    depth_range_mm: float = 2000.0  # integral: depth bins span this range around the root
    epochs: int = 6
    frame_stride: int = 1  # train on every k-th training crop (the frames stage already keeps every 5th frame)
    batch_size: int = 32
    lr: float = 1e-3
    milestones: tuple[int, ...] = (4, 5)  # x gamma at the start of these epochs (0-based)
    gamma: float = 0.1
    seed: int = 7
    scale_jitter: float = 0.25
    rotation_deg: float = 30.0
    rotation_prob: float = 0.6
    flip: bool = True
    colour_jitter: float = 0.2
    flip_test: bool = True
    workers: int = 1  # JPEG-decoding processes beside training
    val_subjects: tuple[str, ...] | None = None  # held-out validation (null: the last training subject)
    val_max_crops: int = 512
    init_from: dict | None = None  # {file: <torchvision / pose_resnet / pose3d file>, include: [...]} or {experiment: ...}
    device: str = "auto"
    amp: bool = True

    def network(self) -> nn.Module:
        """The network of this run (hyper-parameters of its family only)."""
        if self.model not in FAMILIES:
            raise ValueError(f"model {self.model!r} is not an image model family ({', '.join(FAMILIES)})")
        common = {"resnet": self.resnet, "head_filters": self.head_filters, "head_layers": self.head_layers}
        if self.model == "integral":
            return Integral(**common, depth_bins=self.depth_bins)
        if self.decode not in ("soft_argmax", "argmax"):
            raise ValueError(f"decode {self.decode!r} is not soft_argmax or argmax")
        return Keypoints2D(**common)

    @property
    def heatmap_size(self) -> int:
        return self.input_size // 32 * 2 ** self.head_layers

    def train_config(self) -> TrainConfig:
        """The shared loop's settings: multistep schedule, plain Adam, PyTorch's BatchNorm momentum."""
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule="multistep",
                           milestones=tuple(self.milestones), gamma=self.gamma, optimizer="adam", amsgrad=False,
                           loss="image", seed=self.seed, flip=self.flip, bn_schedule=(), amp=self.amp,
                           bn_recalibrate=0)


def image_run(params: dict, name: str) -> ImageRun:
    """The resolved settings of image experiment ``name``; raises KeyError / ValueError naming the problem."""
    entry = None
    for section in SECTIONS:
        if name in (params.get(section) or {}):
            entry = dict(params[section][name] or {})
            break
    if entry is None:
        known = [n for s in SECTIONS for n in (params.get(s) or {})]
        raise KeyError(f"no image experiment {name!r} in params.yaml ({', '.join(known) or 'none'})")
    run = overlay(ImageRun(), entry, f"image experiment {name!r}")
    if run.input_size % 32:
        raise ValueError(f"image experiment {name!r}: input_size {run.input_size} is not a multiple of 32 (ResNet's stride)")
    if run.model not in FAMILIES:
        raise ValueError(f"image experiment {name!r}: model {run.model!r} is not an image model family "
                         f"({', '.join(FAMILIES)})")
    return run


def run_dict(run: ImageRun) -> dict:
    """The settings as plain values (config.json, the resume identity)."""
    return asdict(run)
