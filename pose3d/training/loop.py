"""The lifting training loop: the seeds' recipes, checkpoints every epoch, exact resume.

Default recipe (VideoPose3D / SRNet): Adam with AMSGrad, learning rate x``lr_decay`` after every
epoch, BatchNorm momentum decayed exponentially from 0.1 to 0.001 over the run, flip
augmentation, a fixed seed. The seams other recipes need are settings: ``optimizer`` (adam,
adamw), ``schedule`` (:mod:`pose3d.training.schedules`), ``loss`` (a name or weighted terms over
the model's outputs, :mod:`pose3d.training.losses`), ``bn_schedule`` (which BatchNorm layers the
momentum schedule drives) and ``freeze`` (parameters held still), both name patterns
(:mod:`pose3d.training.selection`). Short runs can recompute the BatchNorm statistics after each
epoch (``bn_recalibrate``, :mod:`pose3d.training.bn_stats`). ``latest.pt`` holds everything needed
to continue (weights, optimiser, epoch, RNG state, history), so an interrupted run resumed from it
ends with the same weights as an uninterrupted one on the CPU.
"""
from __future__ import annotations

import fnmatch
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from pose3d.io.atomic import replacing
from pose3d.models.registry import has_named_outputs
from pose3d.training.batching import WindowBatcher
from pose3d.training.bn_stats import recalibrate_batchnorm
from pose3d.training.distributed import DistInfo, barrier, broadcast_float, sum_all
from pose3d.training.losses import FINAL, CompositeLoss
from pose3d.training.schedules import Schedule
from pose3d.training.selection import batchnorms, freeze

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Defaults equal params.yaml's ``train`` section (pose3d.params.schema.Train); the seeds'
    recipes are experiments that set their own values."""

    epochs: int = 8
    batch_size: int = 512
    lr: float = 0.002
    lr_decay: float = 0.8
    schedule: str = "exponential"  # pose3d.training.schedules.SCHEDULES
    lr_decay_large: float = 0.5  # rsnet schedule
    large_decay_epoch: int = 5  # rsnet schedule
    step_size: int = 1  # step schedule
    gamma: float = 0.1  # step / multistep schedules
    milestones: tuple[int, ...] = ()  # multistep schedule
    optimizer: str = "adam"  # adam | adamw
    amsgrad: bool = True
    weight_decay: float = 0.0  # adamw: decoupled decay (PyTorch's AdamW default is 0.01, as RIE uses)
    loss: str | dict = "mpjpe"  # a name of pose3d.training.losses.LOSSES, or {term: weight}
    seed: int = 4321
    flip: bool = True
    bn_momentum_start: float = 0.1
    bn_momentum_end: float = 0.001
    bn_schedule: tuple[str, ...] = ("*",)  # BatchNorm layers (name patterns) the momentum schedule drives
    freeze: tuple[str, ...] = ()  # parameters (name patterns) held still
    amp: bool = True  # mixed precision (bfloat16 autocast), on CUDA only
    bn_recalibrate: int = 20  # >0: recompute BatchNorm statistics over this many batches after each epoch

    def lr_schedule(self) -> Schedule:
        return Schedule(self.schedule, self.lr, self.lr_decay, self.lr_decay_large, self.large_decay_epoch,
                        self.step_size, self.gamma, tuple(self.milestones))


OPTIMIZERS = ("adam", "adamw")


def make_optimizer(model: nn.Module, cfg: TrainConfig,
                   lr_factors: tuple[tuple[str, float], ...] = ()) -> torch.optim.Optimizer:
    """The recipe's optimizer over the trainable parameters only (frozen ones never move).

    ``lr_factors``: (name pattern, factor) pairs; a parameter matching a pattern learns at ``lr``
    times its factor (the multi-view seeds' backbone group), in a group of its own.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("every parameter is frozen: nothing to train")
    params: list = [p for _, p in named]
    if lr_factors:
        groups: dict[float, list] = {}
        for n, p in named:
            factor = next((f for pattern, f in lr_factors if fnmatch.fnmatchcase(n, pattern)), 1.0)
            groups.setdefault(float(factor), []).append(p)
        params = [{"params": ps, "lr": cfg.lr * f, "lr_factor": f} for f, ps in groups.items()]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, amsgrad=cfg.amsgrad, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, amsgrad=cfg.amsgrad, weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer {cfg.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")


def model_outputs(net: nn.Module, model: nn.Module, x: torch.Tensor, extra: dict) -> dict[str, torch.Tensor]:
    """Every named output of ``model`` (run through ``net``, its DDP wrapper): models with
    intermediate outputs (RS-Net's pre-refinement pose) return them with ``outputs=True``."""
    if has_named_outputs(model):
        return net(x, outputs=True, **extra)
    return {FINAL: net(x, **extra)}


@dataclass
class History:
    epoch: int = 0  # epochs completed
    train_loss: list[float] = field(default_factory=list)
    val_mpjpe_mm: list[float] = field(default_factory=list)
    best_mpjpe_mm: float = math.inf
    best_epoch: int = 0


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is resolved at run time and never written back, so params stay machine-independent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


#: the most weight movement (learning rate x steps) BatchNorm's running statistics may average over
BN_LR_WINDOW = 0.05


def bn_momentum(epoch: int, cfg: TrainConfig, lr: float | None = None) -> float:
    """BatchNorm momentum for the epoch after ``epoch`` completed ones: the seeds' exponential
    decay from ``bn_momentum_start`` to ``bn_momentum_end``, but never below ``lr / BN_LR_WINDOW``.

    The running statistics are an average over the last ~1/momentum steps, taken while the weights
    move by about the learning rate each step. The seeds' schedule (60-80 epochs, lr x0.95 per
    epoch) keeps that window's movement, lr/momentum, between 0.01 and 0.046 for the whole run, so
    the floor never binds there. A short run (a few epochs at a barely decayed learning rate)
    decays the momentum 100x while the learning rate stays put: by its last epoch the statistics
    average over weights far older than the network they are used with, and the evaluation-mode
    network scores worse every epoch while the training loss falls (VideoPose3D's own script does
    this too on a short run, less visibly). The floor keeps the window's movement bounded by the
    same amount in every recipe.
    """
    ratio = math.log(cfg.bn_momentum_start / cfg.bn_momentum_end)
    momentum = cfg.bn_momentum_start * math.exp(-(epoch / max(cfg.epochs, 1)) * ratio)
    if lr is not None:
        momentum = max(momentum, min(cfg.bn_momentum_start, lr / BN_LR_WINDOW))
    return momentum


def resume_refusal(state: dict | None, config: dict, identity: dict | None) -> str | None:
    """Why ``state`` (a ``latest.pt``) must not be continued, or None when it is the same,
    unfinished run: same training settings and the same identity (experiment, split, input
    files, code). A finished run is never continued into a new one."""
    if state is None:
        return "no checkpoint"
    if state.get("config") != config:
        changed = sorted(k for k in {**config, **(state.get("config") or {})}
                         if (state.get("config") or {}).get(k) != config.get(k))
        return f"training settings changed: {', '.join(changed)}"
    old = state.get("identity") or {}
    new = identity or {}
    changed = sorted(k for k in {**old, **new} if old.get(k) != new.get(k))
    if changed:
        return f"{', '.join(changed)} changed"
    done = int((state.get("history") or {}).get("epoch", 0))
    if done >= int(config.get("epochs", 0)):
        return f"that run finished ({done} epochs)"
    return None


def _save(obj: dict, path: Path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def fit(
    model: nn.Module,
    batcher: WindowBatcher,
    cfg: TrainConfig,
    out_dir: Path,
    validate: Callable[[nn.Module], float],
    on_epoch: Callable[[int, float, float], None] | None = None,
    stop_after: int | None = None,
    dist_info: DistInfo = DistInfo(),
    identity: dict | None = None,
    criterion: Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor] | None = None,
    val_label: str = "validation MPJPE (mm)",
    lr_factors: tuple[tuple[str, float], ...] = (),
) -> History:
    """Train for ``cfg.epochs`` epochs, resuming from ``out_dir/latest.pt`` if it exists.

    ``validate(model)`` returns the validation MPJPE in mm (the model is in eval mode);
    ``on_epoch(epoch, loss, mpjpe)`` is called after each epoch (e.g. DVCLive logging);
    ``stop_after`` ends the run early after that many epochs in total (tests of resume).
    ``identity`` (e.g. the experiment's settings and digests of its input files) is stored in
    ``latest.pt``; a checkpoint with another identity or other settings is not resumed, so
    changed data never continues from weights trained on the old data. On resume the
    restored epochs are passed to ``on_epoch`` first, so a logger that starts empty ends
    with the whole run. ``criterion(outputs, targets)`` replaces the experiment's ``loss`` terms
    (the image models' weighted L1); ``val_label`` names what ``validate`` returns in the log;
    ``lr_factors`` scale the learning rate of some parameters (:func:`make_optimizer`).
    Under ``torchrun`` (``dist_info``, :mod:`pose3d.training.distributed`) the model is
    wrapped in DistributedDataParallel, each rank trains on its share of every batch, and
    only rank 0 validates and writes checkpoints.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = batcher.device
    model.to(device)
    # frozen before the DDP wrapper is built: it must not wait for gradients that never come
    frozen = freeze(model, cfg.freeze)
    if frozen:
        log.info("frozen: %d parameter tensors (%d values) matching %s", len(frozen),
                 sum(p.numel() for p in model.parameters() if not p.requires_grad), ", ".join(cfg.freeze))
    net = model
    if dist_info.active:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = make_optimizer(model, cfg, lr_factors) if cfg.epochs > 0 else None  # epochs 0: weights scored as loaded
    schedule = cfg.lr_schedule()
    scheduled_bns = batchnorms(model, cfg.bn_schedule)
    hist = History()
    torch.manual_seed(cfg.seed)
    latest = out_dir / "latest.pt"
    state = torch.load(latest, map_location=device, weights_only=False) if latest.is_file() else None
    barrier(dist_info)  # every rank has read it before rank 0 may remove it
    reason = resume_refusal(state, asdict(cfg), identity)
    if state is not None and reason is not None:
        log.warning("%s not resumed (%s): starting over", latest, reason)
        state = None
    if state is None and dist_info.is_main:  # no weights of another run may survive into this one
        for stale in ("latest.pt", "best.pt"):
            (out_dir / stale).unlink(missing_ok=True)
    barrier(dist_info)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        hist = History(**state["history"])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state["rng_cuda"])
        log.info("resuming from %s after epoch %d of %d", latest, hist.epoch, cfg.epochs)
        if on_epoch is not None and dist_info.is_main:
            for done in range(hist.epoch):
                on_epoch(done + 1, hist.train_loss[done], hist.val_mpjpe_mm[done])
    criterion = criterion or CompositeLoss(cfg.loss, batcher.skeleton)
    amp = cfg.amp and device.type == "cuda"
    if cfg.epochs == 0 and hist.epoch == 0:  # weights from elsewhere (init_from), scored as they are
        model.eval()
        with torch.no_grad():
            val = float(validate(model)) if dist_info.is_main else math.nan
        hist.best_mpjpe_mm = val
        if dist_info.is_main:
            _save({"model": model.state_dict(), "epoch": 0, "val_mpjpe_mm": val}, out_dir / "best.pt")
            _save({"model": model.state_dict(), "optimizer": {}, "history": asdict(hist),
                   "config": asdict(cfg), "identity": identity, "rng_cpu": torch.get_rng_state(), "rng_cuda": None},
                  latest)
        barrier(dist_info)
        return hist
    last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    if dist_info.rank:
        torch.manual_seed(cfg.seed + dist_info.rank)  # own dropout masks; rank 0 keeps the single-process stream
    for epoch in range(hist.epoch, last):
        lr = schedule.lr_at(epoch)
        for group in opt.param_groups:
            group["lr"] = lr * group.get("lr_factor", 1.0)
        momentum = bn_momentum(epoch, cfg, lr)
        for bn in scheduled_bns:
            bn.momentum = momentum
        model.train()
        total, count = torch.zeros((), device=device), 0
        batches = batcher.epoch(cfg.batch_size, cfg.seed, epoch, cfg.flip, dist_info.rank, dist_info.world)
        for x, y, extra in tqdm(batches, total=batcher.num_batches(cfg.batch_size, cfg.flip),
                                disable=not dist_info.is_main, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                                mininterval=1.0):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                outputs = model_outputs(net, model, x, extra)
            loss = criterion(outputs, y)  # targets are root-relative: the root sits at the origin
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * x.shape[0]
            count += x.shape[0]
        seen = sum_all(torch.tensor([total.item(), float(count)], dtype=torch.float64, device=device), dist_info)
        train_loss = float(seen[0]) / max(float(seen[1]), 1.0)
        if cfg.bn_recalibrate > 0:
            windows = ((x, extra) for x, _, extra in batcher.epoch(cfg.batch_size, cfg.seed + 1, epoch, cfg.flip,
                                                                  dist_info.rank, dist_info.world))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                recalibrate_batchnorm(model, itertools.islice(windows, cfg.bn_recalibrate))
        model.eval()
        with torch.no_grad():
            val = float(validate(model)) if dist_info.is_main else math.nan
        val = broadcast_float(val, dist_info, device)
        hist.epoch = epoch + 1
        hist.train_loss.append(train_loss)
        hist.val_mpjpe_mm.append(val)
        if val < hist.best_mpjpe_mm:
            hist.best_mpjpe_mm, hist.best_epoch = val, epoch + 1
            if dist_info.is_main:
                _save({"model": model.state_dict(), "epoch": epoch + 1, "val_mpjpe_mm": val}, out_dir / "best.pt")
        if not dist_info.is_main:
            continue
        _save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "history": asdict(hist),
                "config": asdict(cfg),
                "identity": identity,
                "rng_cpu": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None,
            },
            latest,
        )
        log.info("epoch %d/%d: loss %.5f, %s %.2f", epoch + 1, cfg.epochs, train_loss, val_label, val)
        if on_epoch is not None:
            on_epoch(epoch + 1, train_loss, val)
    barrier(dist_info)  # every rank returns after rank 0 has written the last checkpoint
    return hist
