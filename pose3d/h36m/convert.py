"""Official pose CDFs -> VideoPose3D arrays, with every check the sequence table allows.

One subject is one unit of work (a worker process, or a Dask task). Per sequence it
reads ``D3_Positions`` (world), the four ``D2_Positions`` and, optionally, the four
``D3_Positions_mono``; checks shapes and frame counts against the table; and checks that
the cameras reproduce the 2D (and camera-frame 3D) files from the world poses.

Every array's shape is known from the table before a file is read, so the two npz files
are laid out first (:mod:`pose3d.io.npz_inplace`) and each worker writes its arrays
straight into their final place: the hundreds of MB of output are written once, never
sent back to the parent or pickled again.
"""
from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pose3d.geometry.projection import project_planar, world_to_camera_planar
from pose3d.h36m.archives import unpack_poses
from pose3d.h36m.cameras import CAMERA_IDS, cameras_json, subject_cameras
from pose3d.h36m.cdf_io import PoseFileError, read_pose
from pose3d.h36m.layout import pose_path
from pose3d.h36m.sequences import ExclusionRule, excluded_cameras, subject_sequences
from pose3d.h36m.sequences_csv import FILE_NAME as SEQUENCES_CSV, exclusion_columns, write_sequences_csv
from pose3d.h36m.skeleton import H36M17_FROM_32, VP3D_2D_METADATA
from pose3d.io.npz_inplace import ArraySpec, InplaceNpz, Slot
from pose3d.parallel import pmap

#: Frames per block of the checks: keeps every temporary inside the CPU cache. Memory
#: traffic, not arithmetic, limits two workers sharing a machine.
CHECK_BLOCK = 1024
NUM_CAMERAS = len(CAMERA_IDS)


@dataclass(frozen=True)
class ConvertJob:
    """One subject to convert (picklable, so it can go to a process or a Dask worker)."""

    root: str
    subject: str
    expected_frames: dict[str, int]  # file base -> pose frames the files must have
    slots_3d: dict[str, Slot]  # kept key -> where its (N, 32, 3) metres go
    slots_2d: dict[str, list[Slot]]  # kept key -> where its 4 x (N, 17, 2) pixels go
    rules: tuple[ExclusionRule, ...] = ()
    reproj_tol_px: float = 0.05
    check_mono: bool = False
    mono_tol_mm: float = 0.1
    archives: bool = False  # root is a folder of official .tgz downloads
    verify_md5: bool = True


@dataclass
class SubjectResult:
    subject: str
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
    """Read, check and convert every sequence of one subject into its slots. Raises PoseFileError.

    From downloaded archives, the subject's pose CDFs are first unpacked to a scratch folder.
    """
    if not job.archives:
        return _convert_tree(job)
    features = ["D3_Positions", "D2_Positions"] + (["D3_Positions_mono"] if job.check_mono else [])
    with tempfile.TemporaryDirectory(prefix=f"h36m-{job.subject}-") as tmp:
        unpack_poses(Path(job.root), job.subject, features, Path(tmp), job.verify_md5)
        return _convert_tree(replace(job, root=tmp, archives=False))


def _convert_tree(job: ConvertJob) -> SubjectResult:
    root = Path(job.root)
    seqs = subject_sequences(job.subject)
    cams = subject_cameras(job.subject)
    names_cam = {f"{s.file_base}.{c}.cdf" for s in seqs for c in CAMERA_IDS}
    _check_folder(root, job.subject, "D3_Positions", {f"{s.file_base}.cdf" for s in seqs})
    _check_folder(root, job.subject, "D2_Positions", names_cam)
    if job.check_mono:
        _check_folder(root, job.subject, "D3_Positions_mono", names_cam)

    out = SubjectResult(job.subject)
    joints17 = list(H36M17_FROM_32)
    for seq in seqs:
        n = job.expected_frames[seq.file_base]
        p3 = pose_path(root, job.subject, "D3_Positions", seq)
        world_mm = read_pose(p3, 3, n)
        reproj = mono_err = 0.0
        views = []
        for cam in cams:
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
            views.append(uv)
        if seq.key in job.slots_3d:  # written only once every view of the sequence passed
            job.slots_3d[seq.key].write(world_mm * np.float32(1e-3))
            for slot, uv in zip(job.slots_2d[seq.key], views):
                slot.write(np.ascontiguousarray(uv[:, joints17]))
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
                **exclusion_columns(seq, job.rules),
            }
        )
    return out


def kept_keys(subject: str, rules: tuple[ExclusionRule, ...]) -> list[tuple[str, str]]:
    """(file base, key) of the sequences that go into the npz files, in table order."""
    return [(q.file_base, q.key) for q in subject_sequences(subject) if len(excluded_cameras(q, rules)) < NUM_CAMERAS]


def convert_archive(
    root: Path,
    expected: dict[str, dict[str, int]],
    out_dir: Path,
    rules: tuple[ExclusionRule, ...] = (),
    reproj_tol_px: float = 0.05,
    check_mono: bool = False,
    mono_tol_mm: float = 0.1,
    workers: int | None = None,
    dask_address: str | None = None,
    archives: bool = False,
    verify_md5: bool = True,
) -> list[SubjectResult]:
    """Convert the subjects of ``expected`` ({subject: {file base: frames}}) into ``out_dir``.

    ``root`` is an extracted tree, or with ``archives`` a folder of the official ``.tgz``
    downloads. Writes ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz``, ``cameras.json`` and
    ``sequences.csv``. Raises PoseFileError on the first bad file.
    """
    # absolute paths: Dask workers do not share this process's working directory
    root, out_dir = Path(root).resolve(), Path(out_dir).resolve()
    subjects = list(expected)
    kept = {s: kept_keys(s, rules) for s in subjects}
    tree3 = {s: {k: ArraySpec((expected[s][f], 32, 3)) for f, k in kept[s]} for s in subjects}
    tree2 = {s: {k: [ArraySpec((expected[s][f], 17, 2))] * NUM_CAMERAS for f, k in kept[s]} for s in subjects}
    npz3 = InplaceNpz.plan(out_dir / "data_3d_h36m.npz", {"positions_3d": tree3})
    npz2 = InplaceNpz.plan(out_dir / "data_2d_h36m_gt.npz", {"positions_2d": tree2, "metadata": dict(VP3D_2D_METADATA)})
    jobs = [
        ConvertJob(str(root), s, expected[s], npz3.slots["positions_3d"][s], npz2.slots["positions_2d"][s],
                   tuple(rules), reproj_tol_px, check_mono, mono_tol_mm, archives, verify_md5)
        for s in subjects
    ]
    results = pmap(
        convert_subject, jobs, workers=workers, dask_address=dask_address, desc="convert subjects",
        weights=[sum(expected[s].values()) for s in subjects],
    )
    with ThreadPoolExecutor(max_workers=2) as pool:  # CRC read-back; zlib releases the GIL
        for f in [pool.submit(npz.finalize) for npz in (npz3, npz2)]:
            f.result()
    (out_dir / "cameras.json").write_text(json.dumps(cameras_json(tuple(subjects)), indent=1) + "\n")
    write_sequences_csv(out_dir / SEQUENCES_CSV, [row for r in results for row in r.rows])
    return results
