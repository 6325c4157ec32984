"""Multi-view experiments of params.yaml: a model family, its network and its recipe.

Two sections, because the pelvis makes them two steps of one chain: ``algebraic_experiments``
(4 views -> weighted DLT; their predictions can become the ``priors`` stage's pelvis) and
``volumetric_experiments`` (``volumetric`` and ``contextpose``: a cube on the priors stage's
pelvis). ``extra_multiview_experiments`` holds entries of either kind that do not run by default.
An entry overlays :class:`MultiViewRun` (the defaults, sized for a CPU); an unknown key is an
error with the closest known one. The seeds' recipes are entries with the seeds' sizes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from pose3d.models.algebraic import Algebraic
from pose3d.models.contextpose import ContextPose
from pose3d.models.volumetric import Volumetric
from pose3d.params.overlay import overlay
from pose3d.training.loop import TrainConfig

#: multi-view families -> network classes
FAMILIES: dict[str, type[nn.Module]] = {"algebraic": Algebraic, "volumetric": Volumetric, "contextpose": ContextPose}
#: the sections of params.yaml that hold multi-view experiments (the last does not run by default)
SECTIONS = ("algebraic_experiments", "volumetric_experiments", "extra_multiview_experiments")
#: the families each default section accepts
SECTION_FAMILIES = {"algebraic_experiments": ("algebraic",), "volumetric_experiments": ("volumetric", "contextpose")}
PELVIS = ("priors", "gt")


@dataclass(frozen=True)
class MultiViewRun:
    model: str = "algebraic"
    resnet: int = 18
    head_filters: int = 64
    head_layers: int = 3
    input_size: int = 64  # network input, pixels (crops are resized on the device)
    confidences: bool = True  # algebraic: learned per-view confidences (false: equal weights)
    heatmap_multiplier: float = 1.0  # algebraic: heatmaps x this before the softmax (the seed: 100 on MSE heatmaps)
    cube_size: int = 16  # voxels per side (the seeds: 64)
    cube_side_mm: float = 2500.0
    volume_channels: int = 32
    v2v_levels: int | None = None  # volumetric: V2V poolings (null: 5 where the cube allows, the seed's)
    lt_normalisation: bool = False  # true: learnable-triangulation's pixel normalisation by w, not w - 1
    temperature: float = 1500.0  # contextpose: limb-length prior temperature
    pelvis: str = "priors"  # cube centre: priors (the priors stage's pelvis_priors.npz) | gt
    rotate: bool = True  # volumetric: cube rotated about world z by a random angle in training
    single_view: bool = False  # one random camera per training batch, every (frame, camera) a test sample
    epochs: int = 4
    frame_stride: int = 1  # train on every k-th training frame (the frames stage keeps every 5th)
    batch_size: int = 4
    lr: float = 1e-3  # the volume network and process_features (algebraic: everything)
    backbone_lr: float | None = None  # null: lr (the seeds: 1e-5 algebraic, 1e-4 volumetric)
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    seed: int = 11
    workers: int = 1  # JPEG-decoding processes beside training
    val_subjects: tuple[str, ...] | None = None  # held-out validation (null: the last training subject)
    val_max_frames: int = 128
    backbone: str | None = None  # the keypoints2d experiment whose weights it starts from (a DVC dependency)
    init_from: dict | None = None  # instead of the backbone's last checkpoint: {experiment: ..., checkpoint: best} or {file: ...}
    device: str = "auto"
    amp: bool = True

    def network(self, limb_mean_mm=None, limb_std_mm=None) -> nn.Module:
        common = {"resnet": self.resnet, "head_filters": self.head_filters, "head_layers": self.head_layers}
        if self.model == "algebraic":
            return Algebraic(**common, confidences=self.confidences, heatmap_multiplier=self.heatmap_multiplier)
        cube = {"cube_size": self.cube_size, "cube_side_mm": self.cube_side_mm,
                "volume_channels": self.volume_channels, "lt_normalisation": self.lt_normalisation}
        if self.model == "volumetric":
            return Volumetric(**common, **cube, v2v_levels=self.v2v_levels)
        return ContextPose(**common, **cube, limb_mean_mm=limb_mean_mm, limb_std_mm=limb_std_mm,
                           temperature=self.temperature)

    @property
    def lr_factors(self) -> tuple[tuple[str, float], ...]:
        """The backbone's learning rate relative to ``lr`` (the seeds' parameter groups)."""
        if self.backbone_lr is None or self.backbone_lr == self.lr:
            return ()
        factor = float(self.backbone_lr) / float(self.lr)
        return tuple((p, factor) for p in ("conv1.*", "bn1.*", "layer*", "deconv_layers.*", "final_layer.*"))

    @property
    def init_spec(self) -> dict:
        """``init_from``, else the backbone experiment's last checkpoint; never strict (new heads)."""
        spec = dict(self.init_from or ({"experiment": self.backbone} if self.backbone else {}))
        if spec:
            spec.setdefault("strict", False)
        return spec

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, schedule="multistep",
                           milestones=tuple(self.milestones), gamma=self.gamma, optimizer="adam", amsgrad=False,
                           loss="multiview", seed=self.seed, flip=False, bn_schedule=(), amp=self.amp,
                           bn_recalibrate=0)


def multiview_section(params: dict, name: str) -> str | None:
    """The section of params.yaml that holds ``name`` (None: none)."""
    return next((s for s in SECTIONS if name in (params.get(s) or {})), None)


def multiview_run(params: dict, name: str) -> MultiViewRun:
    """The resolved settings of multi-view experiment ``name``; raises KeyError / ValueError naming the problem."""
    section = multiview_section(params, name)
    if section is None:
        known = [n for s in SECTIONS for n in (params.get(s) or {})]
        raise KeyError(f"no multi-view experiment {name!r} in params.yaml ({', '.join(known) or 'none'})")
    entry = dict(params[section][name] or {})
    run = overlay(MultiViewRun(), entry, f"multi-view experiment {name!r}")
    if run.model not in FAMILIES:
        raise ValueError(f"multi-view experiment {name!r}: model {run.model!r} is not one of {', '.join(FAMILIES)}")
    allowed = SECTION_FAMILIES.get(section)
    if allowed and run.model not in allowed:
        raise ValueError(f"multi-view experiment {name!r}: a {run.model} model belongs under "
                         f"{next(s for s, f in SECTION_FAMILIES.items() if run.model in f)}, not {section}")
    if allowed and not run.backbone:
        raise ValueError(f"multi-view experiment {name!r}: needs a backbone (the keypoints2d experiment whose weights "
                         f"it starts from; from scratch the multi-view models do not learn)")
    if run.input_size % 32:
        raise ValueError(f"multi-view experiment {name!r}: input_size {run.input_size} is not a multiple of 32")
    if run.pelvis not in PELVIS:
        raise ValueError(f"multi-view experiment {name!r}: pelvis {run.pelvis!r} is not one of {', '.join(PELVIS)}")
    if run.model == "contextpose" and run.cube_size % 4:
        raise ValueError(f"multi-view experiment {name!r}: contextpose needs a cube_size divisible by 4")
    return run


def run_dict(run: MultiViewRun) -> dict:
    return asdict(run)
