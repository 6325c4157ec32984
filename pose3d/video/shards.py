"""One shard file per video: a plain ``.npy`` that a data loader memory-maps and slices.

Why this format:

* One file per video, never per frame: DVC hashes and checks every file of an output,
  and at Human3.6M scale (hundreds of thousands of crops) loose files make every
  ``dvc status`` take minutes.
* ``.npy`` is uncompressed and memory-mappable (``np.load(mmap_mode='r')``): reading item
  ``i`` is one slice of the page cache, no archive to open, nothing to parse, safe to
  share between data-loader worker processes (each maps the file read-only).
* ``encoding: raw`` stores ``(K, S, S, 3)`` uint8: zero decode cost, 196 KB per 256 px crop
  (about 60 GB for the every-5th-frame training set of the real data).
  ``encoding: jpeg`` stores the K JPEG files back to back in a ``(total_bytes,)`` uint8
  array, with each frame's byte offset and length in the index: about 10x smaller, and a
  256 px JPEG decodes in well under a millisecond. JPEG is the default; ``raw`` is for
  loaders that must not spend any CPU on images.

Shards are written under a temporary name and renamed when complete. The frame count is
only known at the end (a video can stop early), so the ``.npy`` header is written last,
into space reserved at the start of the file.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from pose3d.io.atomic import Replacement
from pose3d.video.jpeg import JpegEncoder, decode_jpeg

ENCODINGS: tuple[str, ...] = ("jpeg", "raw")
_HEADER_BYTES = 256  # npy v1.0 header, padded; a multiple of 64 keeps the data aligned


def _npy_header(shape: tuple[int, ...]) -> bytes:
    text = "{'descr': '|u1', 'fortran_order': False, 'shape': %r, }" % (tuple(int(n) for n in shape),)
    length = _HEADER_BYTES - 10
    if len(text) >= length:
        raise ValueError(f"npy header for shape {shape} does not fit {_HEADER_BYTES} bytes")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", length) + (text.ljust(length - 1) + "\n").encode("latin1")


class ShardWriter:
    """Appends crops of one video; :meth:`close` makes the shard appear, :meth:`abort` removes it."""

    def __init__(self, path: Path | str, encoding: str, size: int, jpeg_qscale: int = 3):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown frame encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
        self.path, self.encoding, self.size = Path(path), encoding, int(size)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._replacement = Replacement(self.path)
        self._file = open(self._replacement.tmp, "wb")
        self._file.write(b"\0" * _HEADER_BYTES)
        self._encoder = JpegEncoder(size, size, jpeg_qscale) if encoding == "jpeg" else None
        self.count = 0
        self.nbytes = 0

    def add(self, crop: np.ndarray) -> tuple[int, int]:
        """Append one (size, size, 3) uint8 crop; returns its (byte offset in the data, byte length)."""
        if crop.shape != (self.size, self.size, 3) or crop.dtype != np.uint8:
            raise ValueError(f"crop must be ({self.size}, {self.size}, 3) uint8, got {crop.shape} {crop.dtype}")
        data = self._encoder.encode(crop) if self._encoder else np.ascontiguousarray(crop).tobytes()
        offset = self.nbytes
        self._file.write(data)
        self.nbytes += len(data)
        self.count += 1
        return offset, len(data)

    def close(self) -> None:
        shape = (self.count, self.size, self.size, 3) if self.encoding == "raw" else (self.nbytes,)
        self._file.seek(0)
        self._file.write(_npy_header(shape))
        self._file.close()
        self._replacement.commit()

    def abort(self) -> None:
        self._file.close()
        self._replacement.discard()


def read_shard_item(shard: np.ndarray, encoding: str, row: int, offset: int, nbytes: int) -> np.ndarray:
    """One crop from a loaded (or memory-mapped) shard array."""
    if encoding == "raw":
        return np.asarray(shard[row])
    return decode_jpeg(shard[offset:offset + nbytes].tobytes())
