"""The DVC pipeline in a real, temporary git + DVC repository: caching and selective re-runs."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from torch import nn

from tests.helpers import ROOT, stage_env, write_params

pytestmark = pytest.mark.slow


#: seconds-long training: the pipeline's wiring is under test here, not the models
TINY_TRAIN = {"device": "cpu", "epochs": 1, "frame_stride": 4, "val_max_views": 4, "bn_recalibrate": 2}
class TinyLifter(nn.Module):
    """A lifting model defined outside the library: params.yaml names it by import path, nothing else changes."""

    receptive_field = 1

    def __init__(self, num_joints_in: int = 17, num_joints_out: int = 17, width: int = 32):
        super().__init__()
        self.joints_out = num_joints_out
        self.layers = nn.Sequential(nn.Linear(2 * num_joints_in, width), nn.ReLU(), nn.Linear(width, 3 * num_joints_out))

    def forward(self, x):
        b, t = x.shape[:2]
        return self.layers(x.reshape(b, t, -1)).reshape(b, t, self.joints_out, 3)


#: what every entry states (dvc.yaml makes the source's file the stages' dependency)
ON_GT = {"input_2d": "gt", "eval_input_2d": "gt"}
RIE_TINY = {**ON_GT, "model": "rie", "arc": [3], "channels": 8, "latent": 8, "hidden": 16, "optimizer": "adamw",
            "weight_decay": 0.01, "bn_schedule": ["LocalLayer_*"], "loss": "mpjpe"}
TINY_EXPERIMENTS = {
    "fc_tiny": {**ON_GT, "model": "fc", "loss": "l1"},
    "srnet_tiny": {**ON_GT, "model": "srnet", "arc": [1, 1, 1], "groups": 5, "channels": 64, "loss": "l1"},
    "rie_tiny": RIE_TINY,
    "plugin_tiny": {**ON_GT, "model": "tests.test_pipeline_dvc:TinyLifter", "width": 16, "loss": "mpjpe"},
}
#: RIE's stages 2 and 3 as phases: each its own DVC stage, starting from the one before
TINY_PHASES = {
    "rie_tiny_fusion": {**ON_GT, "from": "rie_tiny", "fusion": True, "freeze": ["LocalLayer_*", "GlobalInfo.*"],
                        "init_from": {"include": ["LocalLayer_*", "GlobalInfo.*"]}},
    "rie_tiny_finetune": {**ON_GT, "from": "rie_tiny_fusion", "lr": 0.001},
}
#: image experiments at seconds-size (32 px input, 8x8 maps), and a lifter on the detector's output
IMAGE_TINY = {"resnet": 18, "input_size": 32, "head_filters": 16, "epochs": 1, "batch_size": 16, "frame_stride": 2,
              "workers": 0, "val_max_crops": 16, "device": "cpu"}
TINY_IMAGE_EXPERIMENTS = {"kp2d_tiny": {"model": "keypoints2d", **IMAGE_TINY},
                          "integral_tiny": {"model": "integral", "depth_bins": 8, **IMAGE_TINY}}
TINY_EXPERIMENTS["fc_det_tiny"] = {"model": "fc", "input_2d": "kp2d_tiny", "eval_input_2d": "kp2d_tiny",
                                   "use_scores": True, "loss": "l1"}
ON_DETECTIONS = {"train@fc_det_tiny", "evaluate@fc_det_tiny"}
#: the multi-view chain: the detector's backbone -> algebraic -> its pelvis as the priors -> volumetric, ContextPose
MULTIVIEW_TINY = {"backbone": "kp2d_tiny", "resnet": 18, "input_size": 32, "head_filters": 16, "epochs": 1,
                  "batch_size": 4, "frame_stride": 4, "workers": 0, "val_max_frames": 4, "device": "cpu"}
TINY_ALGEBRAIC = {"alg_tiny": {"model": "algebraic", **MULTIVIEW_TINY}}
TINY_VOLUMETRIC = {"vol_tiny": {"model": "volumetric", "cube_size": 16, **MULTIVIEW_TINY},
                   "ctx_tiny": {"model": "contextpose", "cube_size": 16, "single_view": True, **MULTIVIEW_TINY}}
MULTIVIEW = ({f"{s}_algebraic@{e}" for s in ("train", "evaluate") for e in TINY_ALGEBRAIC}
             | {f"{s}_volumetric@{e}" for s in ("train", "evaluate") for e in TINY_VOLUMETRIC})
EXPORT_FORMATS = ["videopose3d", "learnable_triangulation"]  # one that links files, one that writes images
EXPORTS = {f"export@{f}" for f in EXPORT_FORMATS}
TRAINING = ({f"{s}@{e}" for s in ("train", "evaluate") for e in TINY_EXPERIMENTS}
            | {f"{s}@{e}" for s in ("train_phase", "evaluate_phase") for e in TINY_PHASES})
SOURCES = {"inputs_2d@gt", "inputs_2d@noisy"}  # the ground truth for the models, noisy 2D for the priors
IMAGES = {f"{s}@{e}" for s in ("train_image", "evaluate_image") for e in TINY_IMAGE_EXPERIMENTS}
DETECTION = {"detect@kp2d_tiny", "inputs_2d@kp2d_tiny"}
FRAMES = {"frames@S1", "frames@S9"}
STAGES = ({"synthesize", "convert", "triangulate", "priors"} | FRAMES | SOURCES | TRAINING | EXPORTS | IMAGES | DETECTION
          | MULTIVIEW)


def sh(ws, *args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=ws, env=stage_env(), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(ws, *args, check=True) -> subprocess.CompletedProcess:
    return sh(ws, sys.executable, "-m", "dvc", *args, check=check)


def ran(proc) -> set[str]:
    """Stages that DVC actually ran (not skipped or restored from cache)."""
    return {line.split("'")[1] for line in proc.stdout.splitlines() if line.startswith("Running stage")}


def set_param(ws, section, key, value):
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params[section][key] = value
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    ws = tmp_path_factory.mktemp("repo")
    for name in ("pose3d", "stages"):
        shutil.copytree(ROOT / name, ws / name, ignore=shutil.ignore_patterns("__pycache__"))
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    del pipeline["stages"]["report"]  # tested on its own (tests/report); here it would re-run after every change
    (ws / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    shutil.copy(ROOT / ".gitignore", ws / ".gitignore")
    params = write_params(ws, synthesize={"profile": "tiny"}, train=TINY_TRAIN,
                          dataset={"subjects": ["S1", "S9"], "train_subjects": ["S1"], "test_subjects": ["S9"]})
    params["synthesize"]["videos"] = {"enabled": True, "subjects": ["S1", "S9"], "actions": ["Walking"], "scale": 0.25}
    params["frames"]["subjects"] = ["S1", "S9"]
    params["image_experiments"] = TINY_IMAGE_EXPERIMENTS
    params["detect"] = {**params["detect"], "experiments": ["kp2d_tiny"], "workers": 1, "batch_size": 64}
    params["inputs_2d"] = {"gt": params["inputs_2d"]["gt"], "noisy": params["inputs_2d"]["noisy"],
                           "kp2d_tiny": {"file": "data/processed/detections/data_2d_h36m_kp2d_tiny.npz",
                                         "partial": True, "fill": "interpolate"}}
    params["experiments"] = TINY_EXPERIMENTS
    params["phases"] = TINY_PHASES
    params["export"]["formats"] = EXPORT_FORMATS
    params["algebraic_experiments"] = TINY_ALGEBRAIC
    params["volumetric_experiments"] = TINY_VOLUMETRIC
    params["priors"]["source"] = "algebraic:alg_tiny"
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(ws, "git", "init", "-q")
    dvc(ws, "init", "-q")
    sh(ws, "git", "add", "-A")
    sh(ws, "git", "commit", "-qm", "pipeline")
    return ws


def test_repro_runs_everything_then_nothing(repo):
    first = dvc(repo, "repro")
    assert ran(first) == STAGES
    assert (repo / "data/processed/poses/data_3d_h36m.npz").is_file()
    for name in [*TINY_EXPERIMENTS, *TINY_PHASES]:
        assert (repo / f"data/models/{name}/best.pt").is_file()
        assert "mpjpe" in json.loads((repo / f"data/metrics/{name}/eval.json").read_text())
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert any("mpjpe" in json.dumps(v) for v in shown.values())
    second = dvc(repo, "repro")
    assert ran(second) == set()
    assert dvc(repo, "status").stdout.strip().endswith("up to date.")


def test_convert_param_reruns_convert_only(repo):
    dvc(repo, "repro")
    set_param(repo, "convert", "reproj_tol_px", 0.02)
    assert ran(dvc(repo, "repro")) == {"convert"}
    assert ran(dvc(repo, "repro")) == set()


def test_unread_param_reruns_nothing(repo):
    dvc(repo, "repro")
    set_param(repo, "extra_experiments", "videopose_243f", {"model": "videopose", "epochs": 1})  # no stage reads it
    assert ran(dvc(repo, "repro")) == set()


def test_one_experiments_learning_rate_reruns_its_train_and_evaluate_only(repo):
    dvc(repo, "repro")
    before = (repo / "data/models/fc_tiny/best.pt").read_bytes()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["experiments"]["srnet_tiny"]["lr"] = 0.0005
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {"train@srnet_tiny", "evaluate@srnet_tiny"}
    assert (repo / "data/models/fc_tiny/best.pt").read_bytes() == before
    assert ran(dvc(repo, "repro")) == set()


def test_common_training_param_reruns_every_experiment(repo):
    dvc(repo, "repro")
    set_param(repo, "train", "lr_decay", 0.9)
    assert ran(dvc(repo, "repro")) == TRAINING


def test_phase_chain_reruns_from_the_changed_phase_on(repo):
    """RIE's stages as a chain: a change to stage 3 retrains stage 3 only; one to stage 2, stages 2 and 3."""
    dvc(repo, "repro")
    edges = dvc(repo, "dag", "--dot", "evaluate_phase@rie_tiny_finetune").stdout
    for a, b in [("train@rie_tiny", "train_phase@rie_tiny_fusion"),
                 ("train_phase@rie_tiny_fusion", "train_phase@rie_tiny_finetune")]:
        assert f'"{a}" -> "{b}"' in edges, edges
    stage1 = (repo / "data/models/rie_tiny/latest.pt").read_bytes()
    stage2 = (repo / "data/models/rie_tiny_fusion/latest.pt").read_bytes()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["phases"]["rie_tiny_finetune"]["lr"] = 0.0005
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {"train_phase@rie_tiny_finetune", "evaluate_phase@rie_tiny_finetune"}
    assert (repo / "data/models/rie_tiny/latest.pt").read_bytes() == stage1
    assert (repo / "data/models/rie_tiny_fusion/latest.pt").read_bytes() == stage2
    config = json.loads((repo / "data/models/rie_tiny_finetune/config.json").read_text())
    assert config["config"]["lr"] == 0.0005 and config["config"]["fusion"] is True  # inherited from stage 2
    assert "loaded" in config["init_from"] and "rie_tiny_fusion" in config["init_from"]
    params["phases"]["rie_tiny_fusion"]["epochs"] = 1
    params["phases"]["rie_tiny_fusion"]["lr"] = 0.003
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {f"{s}@rie_tiny_{p}" for s, p in [
        ("train_phase", "fusion"), ("evaluate_phase", "fusion"), ("train_phase", "finetune"), ("evaluate_phase", "finetune")]}
    assert (repo / "data/models/rie_tiny/latest.pt").read_bytes() == stage1


def test_a_detections_file_reruns_only_the_experiments_that_read_it(repo):
    """A detections file is a dependency of its inputs_2d stage and, through it, of the experiments naming it."""
    import numpy as np

    dvc(repo, "repro")
    det = repo / "det/data_2d_h36m_det.npz"
    det.parent.mkdir(exist_ok=True)
    shutil.copy(repo / "data/processed/poses/data_2d_h36m_gt.npz", det)  # stands in for a detector's output
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["inputs_2d"]["det"] = {"file": "det/data_2d_h36m_det.npz"}
    params["experiments"]["fc_det"] = {**TINY_EXPERIMENTS["fc_tiny"], "input_2d": "det", "eval_input_2d": "det"}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {"inputs_2d@det", "train@fc_det", "evaluate@fc_det"}
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    readers = {name for name, st in lock.items() if any(d["path"] == "det/data_2d_h36m_det.npz" for d in st["deps"])}
    assert readers == {"inputs_2d@det"}
    uses = {name for name, st in lock.items() if any(d["path"] == "data/processed/inputs_2d/det.npz" for d in st["deps"])}
    assert uses == {"train@fc_det", "evaluate@fc_det"}
    data = np.load(det, allow_pickle=True)
    positions = data["positions_2d"].item()
    positions["S9"]["Walking 1"][0] = positions["S9"]["Walking 1"][0] + 5.0  # the detector changed
    np.savez(det, positions_2d=np.array(positions, dtype=object), metadata=data["metadata"])
    assert ran(dvc(repo, "repro")) == {"inputs_2d@det", "train@fc_det", "evaluate@fc_det"}
    ev = json.loads((repo / "data/metrics/fc_det/eval.json").read_text())
    assert ev["input_2d"] == ev["eval_input_2d"] == "det"
    rows = (repo / "data/metrics/fc_det/robustness.csv").read_text().splitlines()
    assert rows[0].startswith("experiment,corruption,kind,level") and len(rows) == 1 + 1 + len(params["evaluate"]["robustness"])
    del params["inputs_2d"]["det"], params["experiments"]["fc_det"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == set()


def test_frozen_encoders_keep_stage_one_weights(repo):
    import torch

    dvc(repo, "repro")
    stage1 = torch.load(repo / "data/models/rie_tiny/latest.pt", weights_only=False)["model"]
    stage2 = torch.load(repo / "data/models/rie_tiny_fusion/latest.pt", weights_only=False)["model"]
    encoders = [k for k in stage1 if k.startswith(("LocalLayer_", "GlobalInfo.")) and "running" not in k
                and "num_batches" not in k]
    assert encoders and all(stage1[k].equal(stage2[k]) for k in encoders)
    assert any(k.startswith("FuseBlocks.") for k in stage2) and not any(k.startswith("FuseBlocks.") for k in stage1)


def test_evaluate_param_reruns_evaluations_only(repo):
    dvc(repo, "repro")
    set_param(repo, "evaluate", "tta", False)
    assert ran(dvc(repo, "repro")) == {s for s in TRAINING if s.startswith("evaluate")}


def test_frames_crop_reruns_the_image_stages_and_no_lifting_on_ground_truth(repo):
    dvc(repo, "repro")
    assert (repo / "data/processed/frames/S9/index.csv").is_file()
    set_param(repo, "frames", "crop", 64)
    proc = ran(dvc(repo, "repro"))
    # the exports read every frames folder; the image models train on the crops, and the detector's
    # new weights make new detections for the lifter that reads them
    assert proc >= FRAMES | EXPORTS | IMAGES | {"detect@kp2d_tiny"} | MULTIVIEW
    assert proc <= FRAMES | EXPORTS | IMAGES | DETECTION | ON_DETECTIONS | MULTIVIEW | {"priors"}
    set_param(repo, "frames", "workers", 1)  # how, not what: not a parameter of the stage
    assert ran(dvc(repo, "repro")) == set()


def test_backbone_change_reruns_the_multiview_chain(repo):
    """kp2d_tiny -> alg_tiny -> (its pelvis predictions) priors -> vol_tiny, ctx_tiny: a real DAG edge at each step."""
    dvc(repo, "repro")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert any(d["path"] == "data/processed/pelvis/algebraic:alg_tiny.npz" for d in lock["priors"]["deps"])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["image_experiments"]["kp2d_tiny"]["lr"] = 0.0005
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = ran(dvc(repo, "repro"))
    assert proc >= MULTIVIEW | {"priors", "train_image@kp2d_tiny"}
    assert not proc & (TRAINING - ON_DETECTIONS)  # no lifting model on ground-truth 2D
    assert "train_image@integral_tiny" not in proc
    priors = json.loads((repo / "data/metrics/pelvis_priors.json").read_text())
    assert priors["source"] == "algebraic:alg_tiny" and priors["from_source_frames"] > 0


def test_contextpose_setting_reruns_only_contextpose(repo):
    dvc(repo, "repro")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["volumetric_experiments"]["ctx_tiny"]["temperature"] = 1000.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {"train_volumetric@ctx_tiny", "evaluate_volumetric@ctx_tiny"}
    ev = json.loads((repo / "data/metrics/ctx_tiny/eval.json").read_text())
    assert "algebraic:alg_tiny" in ev["pelvis_source"]


def test_one_formats_export_param_reruns_that_export_only(repo):
    dvc(repo, "repro")
    labels = repo / "data/exports/learnable_triangulation/extra/human36m-multiview-labels-GTbboxes.npy"
    assert labels.is_file() and (repo / "data/exports/videopose3d/data_3d_h36m.npz").is_file()
    image = next((repo / "data/exports/learnable_triangulation/processed").rglob("*.jpg"))
    before = image.read_bytes()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["export"]["learnable_triangulation"]["jpeg_qscale"] = 12
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == {"export@learnable_triangulation"}
    assert len(image.read_bytes()) < len(before)  # coarser quantisation, smaller file
    params["export"]["mmpose"]["sample_rate"] = 1  # a format that is not listed: nothing runs
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert ran(dvc(repo, "repro")) == set()


def test_synthesize_param_reruns_everything_downstream(repo):
    dvc(repo, "repro")
    set_param(repo, "synthesize", "seed", 7)
    assert ran(dvc(repo, "repro")) == STAGES


def test_deleted_output_is_restored_without_running(repo):
    dvc(repo, "repro")
    shutil.rmtree(repo / "data/processed/poses")
    proc = dvc(repo, "repro")
    assert ran(proc) == set()  # DVC's run cache brings the output back
    assert (repo / "data/processed/poses/data_2d_h36m_gt.npz").is_file()


def test_real_archive_configured_generates_no_synthetic_data(repo, tmp_path):
    dvc(repo, "repro")
    external = tmp_path / "h36m"
    shutil.copytree(repo / "data/raw/synthetic", external)  # stands in for an extracted download
    set_param(repo, "dataset", "source", "real")
    set_param(repo, "dataset", "raw_dir", str(external))
    proc = dvc(repo, "repro")
    # the same poses: nothing else runs but what reads the frames or the videos (frames records its video paths)
    assert ran(proc) - IMAGES - DETECTION - ON_DETECTIONS - MULTIVIEW - {"priors"} == {"synthesize", "convert"} | FRAMES | EXPORTS
    assert [p.name for p in (repo / "data/raw/synthetic").iterdir()] == ["NOT_GENERATED.txt"]
    assert (repo / "data/processed/poses/data_3d_h36m.npz").is_file()
    set_param(repo, "dataset", "source", "synthetic")
    set_param(repo, "dataset", "raw_dir", "data/raw/synthetic")


# --- a resumed run is the same run ------------------------------------------------------------

RESUMABLE = "fc_tiny"


def _weights(ws, name=RESUMABLE):
    import torch

    return torch.load(ws / f"data/models/{name}/latest.pt", weights_only=False)["model"]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def _interrupted(ws):
    """Train the experiment for one of its two epochs, then stop as an interruption would."""
    env = {**stage_env(), "POSE3D_STOP_AFTER_EPOCHS": "1"}
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "-f", "-s", f"train@{RESUMABLE}"], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode != 0 and "stopped after epoch 1 of 2" in proc.stdout + proc.stderr
    import torch

    assert torch.load(ws / f"data/models/{RESUMABLE}/latest.pt", weights_only=False)["history"]["epoch"] == 1


def _fresh(ws):
    """The weights of the same stage run from nothing, in this workspace as it is now."""
    shutil.rmtree(ws / f"data/models/{RESUMABLE}")
    dvc(ws, "repro", "-f", "-s", f"train@{RESUMABLE}")
    return _weights(ws)


@pytest.fixture
def two_epochs(repo):
    dvc(repo, "repro")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["experiments"][RESUMABLE]["epochs"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    losses = repo / "pose3d/training/losses.py"
    kept = losses.read_text(), (repo / "params.yaml").read_text()
    yield repo
    losses.write_text(kept[0])
    params = yaml.safe_load(kept[1])
    params["experiments"][RESUMABLE].pop("epochs")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_interrupted_run_resumes_to_the_same_weights(two_epochs):
    ws = two_epochs
    _interrupted(ws)
    proc = dvc(ws, "repro", f"train@{RESUMABLE}")
    assert "resuming from" in proc.stdout + proc.stderr and "after epoch 1 of 2" in proc.stdout + proc.stderr
    assert _same(_weights(ws), _fresh(ws))


def test_changed_code_starts_over(two_epochs):
    ws = two_epochs
    dvc(ws, "repro", f"train@{RESUMABLE}")
    before = _weights(ws)
    _interrupted(ws)
    losses = ws / "pose3d/training/losses.py"  # a declared dependency of train@: the loss itself changes
    losses.write_text(losses.read_text().replace("return (pred - target).abs().mean()",
                                                 "return (pred - target).abs().pow(1.5).mean()"))
    proc = dvc(ws, "repro", f"train@{RESUMABLE}")
    log = proc.stdout + proc.stderr
    assert "not resumed (code changed)" in log and "resuming from" not in log
    after = _weights(ws)
    assert not _same(after, before)
    assert _same(after, _fresh(ws))


def test_swapped_split_starts_over(two_epochs):
    ws = two_epochs
    dvc(ws, "repro", f"train@{RESUMABLE}")
    before = _weights(ws)
    _interrupted(ws)
    params = yaml.safe_load((ws / "params.yaml").read_text())
    ds = params["dataset"]
    ds["train_subjects"], ds["test_subjects"] = ds["test_subjects"], ds["train_subjects"]
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        proc = dvc(ws, "repro", f"train@{RESUMABLE}")
        log = proc.stdout + proc.stderr
        assert "not resumed (" in log and "split changed" in log and "resuming from" not in log
        after = _weights(ws)
        assert not _same(after, before)
        assert _same(after, _fresh(ws))
    finally:
        ds["train_subjects"], ds["test_subjects"] = ds["test_subjects"], ds["train_subjects"]
        (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_finished_run_is_never_continued(two_epochs):
    ws = two_epochs
    dvc(ws, "repro", f"train@{RESUMABLE}")
    proc = dvc(ws, "repro", "-f", "-s", f"train@{RESUMABLE}")
    assert "not resumed (that run finished (2 epochs))" in proc.stdout + proc.stderr
