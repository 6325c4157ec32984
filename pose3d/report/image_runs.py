"""The image experiments (``image_experiments:`` of params.yaml) and what their stages left behind.

They are read apart from the lifting experiments because their files differ: a keypoints2d
experiment is scored in pixels (PCK, mean error) and may have a ``detect.json`` and sample
crops, an integral one has the lifting metrics plus its own (PA-MPJPE without scale, the
mean-pose baseline) and no robustness sweep. Absent files give None, as in inputs.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.report.inputs import METRICS, MODELS, ExperimentRun, _Reader, read_curves

#: The params.yaml section of the image experiments, and the one naming those whose detections are written.
IMAGE_SECTION = "image_experiments"
DETECT_SECTION = "detect"
#: The family whose output is 2D joints (scored in pixels); every other family predicts 3D joints in mm.
KEYPOINTS2D = "keypoints2d"
#: The stages that score an image experiment and that write its detections (``dvc repro <stage>@<name>``).
EVALUATE_STAGE = "evaluate_image"
DETECT_STAGE = "detect"
#: Columns a keypoints2d experiment's tables must have.
PCK_COLUMNS = ("pck_0.05", "pck_0.1", "mean_px")


@dataclass
class Samples:
    """A few test crops with the detected and the true joints, in crop pixels (pixel centres at integers)."""

    crops: np.ndarray  # (K, S, S, 3) uint8, or (K, S, S) grey
    pred_px: np.ndarray  # (K, J, 2)
    true_px: np.ndarray  # (K, J, 2)
    subject: np.ndarray  # (K,) str
    action: np.ndarray
    camera: np.ndarray
    frame: np.ndarray  # (K,) int

    def __len__(self) -> int:
        return len(self.crops)

    def title(self, i: int) -> str:
        return f"{self.subject[i]} {self.action[i]} cam {self.camera[i]} f{int(self.frame[i])}"


@dataclass
class ImageRun(ExperimentRun):
    """One entry of ``image_experiments:``; ``family`` is keypoints2d, integral, or another 3D family."""

    family: str = ""
    samples: Samples | None = None  # keypoints2d: samples.npz
    detect: dict | None = None  # keypoints2d: detect.json (errors of the detections on every frame)
    detect_listed: bool = False  # named in detect.experiments, so the detect stage writes its detections

    @property
    def is_3d(self) -> bool:
        return self.family != KEYPOINTS2D

    @property
    def headline_set(self) -> str | None:
        """eval.json's ``headline_set`` even without ``test_sets`` (an image evaluation has one test set)."""
        return super().headline_set or (self.eval or {}).get("headline_set")

    @property
    def epochs_run(self) -> int | None:
        """From the training logs, else eval.json's ``epochs`` (image stages need not log curves)."""
        logged = super().epochs_run
        epochs = (self.eval or {}).get("epochs")
        return logged if logged is not None else epochs if isinstance(epochs, int) else None

    @property
    def input_text(self) -> str:
        """What the model sees, for the results table's 2D column: 'image crops (64 px)'."""
        size = self.config.get("input_size") or (self.eval or {}).get("input_size")
        return f"image crops ({size} px)" if size else "image crops"

    @property
    def model_text(self) -> str | None:
        """'integral (ResNet-18)': the family and its backbone."""
        model, resnet = self.config.get("model") or self.family or None, self.config.get("resnet")
        if model and resnet is not None:
            return f"{model} (ResNet-{resnet})" if isinstance(resnet, int) else f"{model} ({resnet})"
        return model


def read_image_runs(reader: _Reader, params: dict) -> list[ImageRun]:
    """Every entry of ``image_experiments:`` in params order; none when the section is absent or empty."""
    detect = ((params.get(DETECT_SECTION) or {}).get("experiments")) or []
    return [_image_run(reader, str(name), dict(entry or {}), str(name) in map(str, detect))
            for name, entry in (params.get(IMAGE_SECTION) or {}).items()]


def _image_run(reader: _Reader, name: str, config: dict, detect_listed: bool) -> ImageRun:
    mdir = METRICS / name
    run = ImageRun(name=name, config=config, detect_listed=detect_listed)
    run.model_info = reader.json(MODELS / name / "config.json")
    if not run.config and run.model_info:
        run.config = dict(run.model_info.get("config") or {})
    run.eval = reader.json(mdir / "eval.json")
    run.family = str((run.eval or {}).get("family") or run.config.get("model") or (run.model_info or {}).get("family")
                     or "")
    if not run.family:
        run.config_error = "no 'model' (keypoints2d or integral)"
    run.planned_receptive_field = 1  # one image per prediction
    parameters = (run.model_info or {}).get("parameters")
    run.parameters = parameters if isinstance(parameters, int) else None
    if run.is_3d:
        _read_3d(reader, run)
    else:
        _read_keypoints2d(reader, run)
    run.eval_provenance = reader.json(mdir / "eval.provenance.json")
    run.training_provenance = reader.json(MODELS / f"{name}.provenance.json")
    try:
        run.curves = read_curves(reader.root / mdir / "train")
    except (OSError, ValueError) as exc:
        reader.problems.append(f"{mdir / 'train'}: unreadable training curves ({exc})")
    return run


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _read_3d(reader: _Reader, run: ImageRun) -> None:
    mdir = METRICS / run.name
    if run.eval is not None and not _is_number(run.eval.get("mpjpe")):
        reader.problems.append(f"{mdir / 'eval.json'}: no 'mpjpe' number")
        run.eval = None
    run.per_action = reader.csv(mdir / "per_action.csv", required=("action", "mpjpe", "p_mpjpe"))
    run.per_joint = reader.csv(mdir / "per_joint.csv", required=("joint", "mpjpe"))


def _read_keypoints2d(reader: _Reader, run: ImageRun) -> None:
    mdir = METRICS / run.name
    if run.eval is not None and not any(_is_number(run.eval.get(k)) for k in PCK_COLUMNS):
        reader.problems.append(f"{mdir / 'eval.json'}: no {', '.join(PCK_COLUMNS)} number")
        run.eval = None
    run.per_action = reader.csv(mdir / "per_action.csv", required=("action", *PCK_COLUMNS))
    run.per_joint = reader.csv(mdir / "per_joint.csv", required=("joint", *PCK_COLUMNS))
    run.detect = reader.json(mdir / "detect.json")
    run.samples = read_samples(reader, mdir / "samples.npz")


def read_samples(reader: _Reader, rel) -> Samples | None:
    """samples.npz, checked for the shapes the figure relies on; a bad file is a problem line, not a crash."""
    path = reader.root / rel
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("crops", "pred_px", "true_px", "subject", "action", "camera", "frame")}
    except (OSError, ValueError, KeyError) as exc:
        reader.problems.append(f"{rel}: unreadable ({exc})")
        return None
    crops, pred, true = arrays["crops"], arrays["pred_px"], arrays["true_px"]
    k = len(crops)
    wrong = []
    if crops.ndim not in (3, 4) or (crops.ndim == 4 and crops.shape[-1] not in (1, 3)):
        wrong.append(f"crops {crops.shape}")
    if pred.ndim != 3 or pred.shape[-1] != 2 or pred.shape != true.shape or len(pred) != k:
        wrong.append(f"pred_px {pred.shape} / true_px {true.shape}")
    wrong += [f"{n} {arrays[n].shape}" for n in ("subject", "action", "camera", "frame") if arrays[n].shape != (k,)]
    if wrong:
        reader.problems.append(f"{rel}: unexpected shapes ({', '.join(wrong)}) for {k} crops")
        return None
    return Samples(crops=crops, pred_px=pred.astype(np.float64), true_px=true.astype(np.float64),
                   subject=arrays["subject"].astype(str), action=arrays["action"].astype(str),
                   camera=arrays["camera"].astype(str), frame=arrays["frame"].astype(np.int64))
