"""Official pose CDFs -> VideoPose3D arrays, with every check the sequence table allows.

One subject is one unit of work (a worker process, or a Dask task). Per sequence it
reads ``D3_Positions`` (world), the four ``D2_Positions`` and, optionally, the four
``D3_Positions_mono``; checks shapes and frame counts against the table; and checks that
the cameras reproduce the 2D (and camera-frame 3D) files from the world poses.

Workers write the converted arrays straight into preallocated memory-mapped files (an
:class:`ArraySink`), so the hundreds of MB of output are never copied back to the
parent; the parent only gets, per sequence, where its frames are.
"""
from __future__ import annotations

import csv
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import project_planar, world_to_camera_planar
from pose3d.h36m.cameras import CAMERA_IDS, cameras_json, subject_cameras
from pose3d.h36m.cdf_io import PoseFileError, read_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import ExclusionRule, excluded_cameras, subject_sequences
from pose3d.h36m.skeleton import H36M17_FROM_32
from pose3d.h36m.vp3d_format import save_2d, save_3d
from pose3d.parallel import pmap

#: Frames per block of the checks: keeps every temporary inside the CPU cache. Memory
#: traffic, not arithmetic, limits two workers sharing a machine.
CHECK_BLOCK = 1024
NUM_CAMERAS = len(CAMERA_IDS)


@dataclass(frozen=True)
class ArraySink:
    """Two float32 files sized for every frame of every subject: 3D (T, 32, 3) metres,
    2D (4, T, 17, 2) pixels (camera-major, so each camera's slice is contiguous)."""

    path_3d: str
    path_2d: str
    total_frames: int

    @classmethod
    def create(cls, folder: Path, total_frames: int) -> ArraySink:
        sink = cls(str(Path(folder) / "poses_3d.f32"), str(Path(folder) / "poses_2d.f32"), total_frames)
        for path, shape in zip((sink.path_3d, sink.path_2d), sink.shapes):
            np.memmap(path, np.float32, "w+", shape=shape).flush()
        return sink

    @property
    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return (self.total_frames, 32, 3), (NUM_CAMERAS, self.total_frames, 17, 2)

    def open(self, mode: str = "r+") -> tuple[np.ndarray, np.ndarray]:
        s3, s2 = self.shapes
        return np.memmap(self.path_3d, np.float32, mode, shape=s3), np.memmap(self.path_2d, np.float32, mode, shape=s2)


@dataclass(frozen=True)
class ConvertJob:
    """One subject to convert (picklable, so it can go to a process or a Dask worker)."""

    root: str
    subject: str
    expected_frames: dict[str, int]  # file base -> pose frames the files must have
    sink: ArraySink
    first_frame: int  # where this subject's frames start in the sink
    rules: tuple[ExclusionRule, ...] = ()
    reproj_tol_px: float = 0.05
    check_mono: bool = True
    mono_tol_mm: float = 0.1


@dataclass
class SubjectResult:
    subject: str
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # kept key -> (first frame, frames)
    rows: list[dict] = field(default_factory=list)  # one per sequence, for sequences.csv


def _check_folder(root: Path, subject: str, feature: str, expected: set[str]) -> None:
    """The feature folder must hold every expected file (extra files are not read)."""
    folder = Path(root) / subject / "MyPoseFeatures" / feature
    if not folder.is_dir():
        raise PoseFileError(folder, "folder is missing (is the archive extracted here?)")
    present = {p.name for p in folder.glob("*.cdf")}
    missing = sorted(expected - present)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise PoseFileError(folder / missing[0], f"{len(missing)} of {len(expected)} files missing ({shown})")


def _view_errors(world_mm: np.ndarray, uv: np.ndarray, mono: np.ndarray | None, cam) -> tuple[float, float]:
    """Max |projection - D2| (px) and |world->camera - mono| (mm), block by block.

    float32 maths (rounding ~1e-4 px inside the image); a block that looks wrong is redone
    in float64, so rounding can never fail a good file.
    """
    err = merr = 0.0
    n = world_mm.shape[0]
    for s in range(0, n, CHECK_BLOCK):
        w = world_mm[s:s + CHECK_BLOCK].reshape(-1, 3)
        target = uv[s:s + CHECK_BLOCK].reshape(-1, 2)
        xyz = world_to_camera_planar(w, cam)
        e = _pixel_error(xyz, target, cam)
        if e > 1e-2:  # far beyond float32 rounding: settle it in float64
            xyz = world_to_camera_planar(w.astype(np.float64), cam)
            e = _pixel_error(xyz, target, cam)
        err = max(err, e)
        if mono is not None and w.size:
            merr = max(merr, float(np.abs(xyz - mono[s:s + CHECK_BLOCK].reshape(-1, 3).T).max()))
    return err, merr


def _pixel_error(xyz: np.ndarray, target: np.ndarray, cam) -> float:
    if not xyz.size:
        return 0.0
    u, v = project_planar(xyz, cam)
    u -= target[:, 0]
    v -= target[:, 1]
    return float(max(np.abs(u).max(), np.abs(v).max()))


def convert_subject(job: ConvertJob) -> SubjectResult:
    """Read, check and convert every sequence of one subject into the sink. Raises PoseFileError."""
    root = Path(job.root)
    seqs = subject_sequences(job.subject)
    cams = subject_cameras(job.subject)
    names_cam = {f"{s.file_base}.{c}.cdf" for s in seqs for c in CAMERA_IDS}
    _check_folder(root, job.subject, "D3_Positions", {f"{s.file_base}.cdf" for s in seqs})
    _check_folder(root, job.subject, "D2_Positions", names_cam)
    if job.check_mono:
        _check_folder(root, job.subject, "D3_Positions_mono", names_cam)

    out3, out2 = job.sink.open()
    out = SubjectResult(job.subject)
    joints17 = np.array(H36M17_FROM_32)
    start = job.first_frame
    for seq in seqs:
        n = job.expected_frames[seq.file_base]
        p3 = pose_path(root, job.subject, "D3_Positions", seq)
        world_mm = read_pose(p3, 3, n)
        reproj = mono_err = 0.0
        for c, cam in enumerate(cams):
            p2 = pose_path(root, job.subject, "D2_Positions", seq, cam.camera_id)
            uv = read_pose(p2, 2, n)
            pm = pose_path(root, job.subject, "D3_Positions_mono", seq, cam.camera_id)
            mono = read_pose(pm, 3, n) if job.check_mono else None
            err, merr = _view_errors(world_mm, uv, mono, cam)
            if not err <= job.reproj_tol_px:
                raise PoseFileError(
                    p2, f"does not match the projection of {p3.name} with camera {cam.camera_id} "
                    f"(max {err:.3g} px > {job.reproj_tol_px} px): wrong camera, subject or file",
                )
            if not merr <= job.mono_tol_mm:
                raise PoseFileError(
                    pm, f"does not match {p3.name} moved into camera {cam.camera_id} "
                    f"(max {merr:.3g} mm > {job.mono_tol_mm} mm)",
                )
            reproj, mono_err = max(reproj, err), max(mono_err, merr)
            np.take(uv, joints17, axis=1, out=out2[c, start:start + n])
        np.multiply(world_mm, np.float32(1e-3), out=out3[start:start + n])
        dropped = excluded_cameras(seq, job.rules)
        whole = len(dropped) == NUM_CAMERAS
        if not whole:
            out.spans[seq.key] = (start, n)
        start += n
        out.rows.append(
            {
                "subject": job.subject,
                "action": seq.group,
                "key": seq.key,
                "file_base": seq.file_base,
                "subaction": seq.subaction,
                "pose_frames": n,
                "table_pose_frames": seq.pose_frames,
                "max_reprojection_px": reproj,
                "max_mono_error_mm": mono_err if job.check_mono else float("nan"),
                "checks": "ok",
                "excluded": whole,
                "excluded_cameras": " ".join(dropped),
            }
        )
    out3.flush()
    out2.flush()
    return out


def collect(sink: ArraySink, results: list[SubjectResult]) -> tuple[dict, dict]:
    """VideoPose3D's nested dicts as views into the sink (no copies)."""
    a3, a2 = (np.asarray(a) for a in sink.open("r"))
    p3 = {r.subject: {k: a3[s:s + n] for k, (s, n) in r.spans.items()} for r in results}
    p2 = {r.subject: {k: [a2[c, s:s + n] for c in range(NUM_CAMERAS)] for k, (s, n) in r.spans.items()}
          for r in results}
    return p3, p2


def _scratch_dir(out_dir: Path, distributed: bool) -> Path:
    """Where the sink lives: RAM-backed /dev/shm on one machine; the output's (shared)
    filesystem when Dask workers on other machines must reach it."""
    shm = Path("/dev/shm")
    return Path(out_dir) if distributed or not shm.is_dir() else shm


def convert_archive(
    root: Path,
    expected: dict[str, dict[str, int]],
    out_dir: Path,
    rules: tuple[ExclusionRule, ...] = (),
    reproj_tol_px: float = 0.05,
    check_mono: bool = True,
    mono_tol_mm: float = 0.1,
    compress: bool = False,
    workers: int | None = None,
    dask_address: str | None = None,
) -> list[SubjectResult]:
    """Convert the subjects of ``expected`` ({subject: {file base: frames}}) into ``out_dir``.

    Writes ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``, ``cameras.json`` and
    ``sequences.csv``. Raises PoseFileError on the first bad file.
    """
    # absolute paths: Dask workers do not share this process's working directory
    root, out_dir = Path(root).resolve(), Path(out_dir).resolve()
    subjects = list(expected)
    firsts = np.cumsum([0] + [sum(expected[s].values()) for s in subjects])
    with tempfile.TemporaryDirectory(dir=_scratch_dir(out_dir, bool(dask_address)), prefix="convert-") as tmp:
        sink = ArraySink.create(Path(tmp), int(firsts[-1]))
        jobs = [
            ConvertJob(str(root), s, expected[s], sink, int(firsts[i]), tuple(rules), reproj_tol_px, check_mono, mono_tol_mm)
            for i, s in enumerate(subjects)
        ]
        results = pmap(
            convert_subject, jobs, workers=workers, dask_address=dask_address, desc="convert subjects",
            weights=[sum(expected[s].values()) for s in subjects],
        )
        p3, p2 = collect(sink, results)
        # The two npz files are written side by side: file writes and CRCs release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(save_3d, Path(out_dir) / "data_3d_h36m.npz", p3, compress),
                pool.submit(save_2d, Path(out_dir) / "data_2d_h36m_gt.npz", p2, None, compress),
            ]
            for f in futures:
                f.result()
        del p3, p2  # views into the sink, which is deleted next
    (Path(out_dir) / "cameras.json").write_text(json.dumps(cameras_json(tuple(subjects)), indent=1) + "\n")
    rows = [row for r in results for row in r.rows]
    with open(Path(out_dir) / "sequences.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return results
