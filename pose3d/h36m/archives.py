"""Reading the official download archives (``Poses_D3_Positions_S1.tgz``, ...) directly.

A folder of downloaded ``.tgz`` files can be given instead of an extracted tree: each
archive is read once as a stream, its MD5 is checked against the official checksum while
it is read, and only the pose CDFs are unpacked (to a scratch folder), wherever they sit
inside the archive.
"""
from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

from pose3d.h36m.cdf_io import PoseFileError
from pose3d.h36m.layout import ARCHIVE_CATEGORIES, ARCHIVE_MD5, archive_name

#: Archive category of each pose feature folder.
CATEGORY_OF_FEATURE: dict[str, str] = {
    "D3_Positions": "Poses_D3_Positions",
    "D2_Positions": "Poses_D2_Positions",
    "D3_Positions_mono": "Poses_D3_Positions_mono",
    "D3_Positions_mono_universal": "Poses_D3_Positions_mono_universal",
}
_CHUNK = 1 << 20


def has_archives(folder: Path) -> bool:
    """True for a folder of downloads (``*.tgz``) rather than an extracted ``S1/...`` tree."""
    folder = Path(folder)
    return any(folder.glob("*.tgz")) and not any(p.is_dir() and re.fullmatch(r"S\d+", p.name) for p in folder.iterdir())


class _HashingReader:
    """A read-only file object that feeds every byte it returns to an MD5."""

    def __init__(self, raw):
        self.raw = raw
        self.md5 = hashlib.md5()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.md5.update(data)
        return data

    def drain(self) -> str:
        """Hash whatever the tar reader left unread (end padding) and return the hex digest."""
        while self.read(_CHUNK):
            pass
        return self.md5.hexdigest()


def unpack_poses(folder: Path, subject: str, features: list[str], dest: Path, verify_md5: bool = True) -> None:
    """Unpack ``subject``'s pose CDFs of ``features`` from the archives in ``folder`` into
    ``dest/<subject>/MyPoseFeatures/<feature>/``. Raises PoseFileError naming the archive."""
    for feature in features:
        category = CATEGORY_OF_FEATURE[feature]
        path = Path(folder) / archive_name(category, subject)
        if not path.is_file():
            raise PoseFileError(path, "archive is missing")
        pattern = re.compile(rf"(?:^|/)MyPoseFeatures/{re.escape(feature)}/([^/]+\.cdf)$")
        out = Path(dest) / subject / "MyPoseFeatures" / feature
        out.mkdir(parents=True, exist_ok=True)
        found = 0
        try:
            with open(path, "rb") as raw:
                reader = _HashingReader(raw)
                with tarfile.open(fileobj=reader, mode="r|gz") as tar:
                    for member in tar:
                        match = pattern.search(member.name)
                        if member.isfile() and match:
                            src = tar.extractfile(member)
                            with open(out / match.group(1), "wb") as f:
                                while chunk := src.read(_CHUNK):
                                    f.write(chunk)
                            found += 1
                digest = reader.drain()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise PoseFileError(path, f"not a readable .tgz archive ({type(exc).__name__}: {exc})") from exc
        expected = ARCHIVE_MD5.get(subject, (None,) * len(ARCHIVE_CATEGORIES))[ARCHIVE_CATEGORIES.index(category)]
        if verify_md5 and expected and digest != expected:
            raise PoseFileError(path, f"MD5 {digest} differs from the official {expected}: damaged or incomplete download")
        if not found:
            raise PoseFileError(path, f"holds no MyPoseFeatures/{feature}/*.cdf files")
