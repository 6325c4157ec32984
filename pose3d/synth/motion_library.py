"""The committed motion library: real mocap clips (DeepMimic humanoid) in one small npz.

The source clips are JSON text (about 11 MB for the ones used); the library keeps them as
float32 quaternions, decimates the 120 Hz clips to 60 Hz (still above the 50 Hz output
rate) and compresses, so the project carries its motion without the source files.

Build it with ``python -m pose3d.synth.motion_library --src <deepmimic folder> --out <npz>``;
read it with :func:`load_library`.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.io.atomic import replacing
from pose3d.synth.kinematics import (
    DM_REVOLUTE, DM_TO_WORLD, DM_TO_WORLD_QUAT, continuous_sign, quat_about, quat_conj,
    quat_mul, quat_normalize, quat_scale, quat_slerp, quat_yaw,
)

log = logging.getLogger(__name__)

LIBRARY_PATH = Path(__file__).with_name("data") / "motion_library.npz"

#: Clips kept, by name: (path below the source folder, keep every n-th frame). These are
#: the clips the action recipes use (pose3d.synth.actions.CLIPS_USED).
CLIPS: dict[str, tuple[str, int]] = {
    "walk": ("pybullet-3.2.7/humanoid3d_walk.txt", 1),
    "walk_forward": ("pybullet-3.2.7/walker/0walk_forward.txt", 1),
    "long_walk1": ("deepmimic-repo/long/humanoid3d_long_walk1.txt", 2),
    "long_walk2": ("deepmimic-repo/long/humanoid3d_long_walk2.txt", 2),
    "long_walk3": ("deepmimic-repo/long/humanoid3d_long_walk3.txt", 2),
    "stealthy_walk": ("deepmimic-repo/long/humanoid3d_stealthy_walk0.txt", 1),
    "dance_a": ("pybullet-3.2.7/humanoid3d_dance_a.txt", 1),
    "dance_b": ("pybullet-3.2.7/humanoid3d_dance_b.txt", 1),
    "dance_spin": ("deepmimic-repo/humanoid3d_dance_spin.txt", 1),
    "punch": ("pybullet-3.2.7/humanoid3d_punch.txt", 1),
    "kick": ("pybullet-3.2.7/humanoid3d_kick.txt", 1),
    "getup_faceup": ("pybullet-3.2.7/humanoid3d_getup_faceup.txt", 1),
    "getup_facedown": ("pybullet-3.2.7/humanoid3d_getup_facedown.txt", 1),
}


@dataclass(frozen=True)
class Clip:
    """One clip, root already in the Human3.6M z-up world (metres, DeepMimic proportions).

    ``rotations`` (N, 13, 4): the root's world rotation, then each joint's rotation in its
    parent frame (knees and elbows as rotations about local z), sign-continuous in time.
    A looping clip's last frame is its first pose moved on by one cycle: ``cycle_yaw``
    about z and from ``root_pos_m[0]`` to ``root_pos_m[-1]`` on the floor.
    """

    name: str
    source: str
    fps: float
    loop: bool
    root_pos_m: np.ndarray
    rotations: np.ndarray
    cycle_yaw: float = 0.0

    @property
    def n_frames(self) -> int:
        return len(self.root_pos_m)

    @property
    def duration_s(self) -> float:
        return (self.n_frames - 1) / self.fps


def _close_loop(root: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Make a looping clip seamless: spread the mismatch between its last frame and its
    first pose (moved on by one cycle) linearly over the clip, so playback never jumps."""
    n = len(root)
    ramp = np.linspace(0.0, 1.0, n)
    yaw = quat_yaw(rot[[0, -1], 0])
    cycle_yaw = float(np.angle(np.exp(1j * (yaw[1] - yaw[0]))))
    want = rot[0].copy()
    want[0] = quat_mul(quat_about("z", cycle_yaw), rot[0, 0])
    fix = quat_mul(quat_conj(rot[-1]), want)
    rot = quat_mul(rot, quat_scale(np.broadcast_to(fix, rot.shape), ramp[:, None]))
    root = root.copy()
    root[:, 2] += (root[0, 2] - root[-1, 2]) * ramp
    return root, continuous_sign(rot, axis=0), cycle_yaw


def sample_clip(clip: Clip, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root positions (n, 3) and rotations (n, 13, 4) at times ``t_s`` (seconds).

    Frames are interpolated (slerp for rotations). A looping clip repeats, each cycle
    starting where the previous one ended (position and heading carried on); any other
    clip holds its first or last frame outside its time range.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    period = clip.duration_s
    if clip.loop:
        cycle = np.floor(t_s / period).astype(np.int64)
        phase = t_s - cycle * period
    else:
        cycle = np.zeros(t_s.shape, dtype=np.int64)
        phase = np.clip(t_s, 0.0, period)
    f = phase * clip.fps
    i0 = np.clip(np.floor(f).astype(np.int64), 0, clip.n_frames - 2)
    alpha = np.clip(f - i0, 0.0, 1.0)
    rot = quat_slerp(clip.rotations[i0], clip.rotations[i0 + 1], np.broadcast_to(alpha[:, None], i0.shape + (13,)))
    pos = clip.root_pos_m[i0] + alpha[:, None] * (clip.root_pos_m[i0 + 1] - clip.root_pos_m[i0])
    if clip.loop and cycle.size:
        lo, hi = int(cycle.min()), int(cycle.max())
        start, end = clip.root_pos_m[0, :2], clip.root_pos_m[-1, :2]
        c, s = np.cos(clip.cycle_yaw), np.sin(clip.cycle_yaw)
        step = np.array([[c, -s], [s, c]])
        inv = step.T
        corners = {0: start}
        for k in range(1, hi + 1):
            corners[k] = step @ (corners[k - 1] - start) + end
        for k in range(-1, lo - 1, -1):
            corners[k] = inv @ (corners[k + 1] - end) + start
        ks = np.arange(lo, hi + 1)
        table = np.stack([corners[k] for k in ks])
        corner = table[cycle - lo]
        ang = cycle * clip.cycle_yaw
        ca, sa = np.cos(ang), np.sin(ang)
        rel = pos[:, :2] - start
        pos = pos.copy()
        pos[:, 0] = ca * rel[:, 0] - sa * rel[:, 1] + corner[:, 0]
        pos[:, 1] = sa * rel[:, 0] + ca * rel[:, 1] + corner[:, 1]
        rot[:, 0] = quat_mul(quat_about("z", ang), rot[:, 0])
    return pos, rot


def parse_clip(path: Path) -> tuple[float, bool, np.ndarray, np.ndarray]:
    """Read a DeepMimic JSON clip: (fps, loop, root position (N,3), rotations (N,13,4)).

    Values stay in the file's y-up frame. Raises ValueError naming the file when the
    layout is not the 44-number DeepMimic humanoid frame.
    """
    try:
        doc = json.loads(Path(path).read_text())
        frames = np.asarray(doc["Frames"], dtype=np.float64)
        loop = doc["Loop"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a DeepMimic motion file ({exc})") from exc
    if frames.ndim != 2 or frames.shape[1] != 44 or len(frames) < 2:
        raise ValueError(f"{path}: expected (N>=2, 44) frames, got {frames.shape}")
    if loop not in ("wrap", "none"):
        raise ValueError(f"{path}: Loop must be 'wrap' or 'none', got {loop!r}")
    dt = frames[0, 0]
    if not dt > 0 or not np.allclose(frames[:-1, 0], dt, rtol=1e-3):
        raise ValueError(f"{path}: frame durations are not constant ({np.unique(frames[:, 0])})")
    rots = np.empty((len(frames), 13, 4))
    rots[:, 0] = frames[:, 4:8]
    col = 8
    for joint in range(1, 13):
        if joint in DM_REVOLUTE:
            rots[:, joint] = quat_about("z", frames[:, col])
            col += 1
        else:
            rots[:, joint] = frames[:, col:col + 4]
            col += 4
    assert col == 44
    rots = continuous_sign(quat_normalize(rots), axis=0)
    return 1.0 / dt, loop == "wrap", frames[:, 1:4], rots


def build_library(src: Path, out: Path) -> dict[str, int]:
    """Convert the clips in :data:`CLIPS` from ``src`` into one compressed npz at ``out``."""
    names, sources, fps, loops, lengths, roots, rots = [], [], [], [], [], [], []
    for name, (rel, step) in CLIPS.items():
        f, loop, root, rot = parse_clip(src / rel)
        if loop and (len(root) - 1) % step:
            raise ValueError(f"{src / rel}: a looping clip must keep its last frame when decimated")
        names.append(name)
        sources.append(rel)
        fps.append(f / step)
        loops.append(loop)
        roots.append(root[::step])
        rots.append(rot[::step])
        lengths.append(len(roots[-1]))
        log.info("%s: %s, %d frames at %.1f fps", name, rel, lengths[-1], f / step)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            names=np.array(names), sources=np.array(sources),
            fps=np.array(fps, dtype=np.float32), loop=np.array(loops),
            lengths=np.array(lengths, dtype=np.int64),
            root_pos_m=np.concatenate(roots).astype(np.float32),
            rotations=np.concatenate(rots).astype(np.float32),
        )
    return dict(zip(names, lengths))


@functools.lru_cache(maxsize=4)
def load_library(path: str | Path | None = None) -> dict[str, Clip]:
    """Clips by name from the committed library (or ``path``), root turned into the z-up world."""
    path = LIBRARY_PATH if path is None else Path(path)
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the motion library ({exc})") from exc
    bounds = np.concatenate([[0], np.cumsum(data["lengths"])])
    clips = {}
    for i, name in enumerate(data["names"]):
        sl = slice(bounds[i], bounds[i + 1])
        rot = data["rotations"][sl].astype(np.float64)
        rot[:, 0] = quat_mul(DM_TO_WORLD_QUAT, rot[:, 0])
        rot = continuous_sign(quat_normalize(rot), axis=0)
        root = data["root_pos_m"][sl].astype(np.float64) @ DM_TO_WORLD.T
        loop = bool(data["loop"][i])
        cycle_yaw = 0.0
        if loop:
            root, rot, cycle_yaw = _close_loop(root, rot)
        clips[str(name)] = Clip(
            name=str(name), source=str(data["sources"][i]), fps=float(data["fps"][i]),
            loop=loop, root_pos_m=root, rotations=rot, cycle_yaw=cycle_yaw,
        )
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="folder holding the DeepMimic clips")
    parser.add_argument("--out", type=Path, default=LIBRARY_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        lengths = build_library(args.src, args.out)
    except ValueError as exc:
        log.error("%s", exc)
        return 1
    log.info("wrote %s: %d clips, %d frames, %d bytes", args.out, len(lengths),
             sum(lengths.values()), args.out.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
