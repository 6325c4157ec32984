"""An uncompressed npz laid out before its data exists, so workers write each array in place.

VideoPose3D's ``data_3d_h36m.npz`` / ``data_2d_h36m_gt.npz`` are npz files whose members are
0-d object arrays wrapping nested dicts of float32 arrays. ``np.savez`` would pickle and write
every byte again in the parent after the workers computed it. Every shape is known before any
data is read, so :meth:`InplaceNpz.plan` writes the whole file up front (zip structures, npy
header, pickle opcodes) with holes where the array bytes go, workers fill the holes through
picklable :class:`Slot` s, and :meth:`InplaceNpz.finalize` patches in the CRC-32s: the data is
written exactly once.

Pickle stream without the data: the tree is pickled (protocol 5) with untouched ``np.empty``
placeholders whose buffers go out-of-band, which leaves one NEXT_BUFFER opcode where each
array's bytes would be. The stream is then made in-band: FRAME opcodes are dropped (framing is
optional for unpicklers) and each NEXT_BUFFER becomes BYTEARRAY8 + length + a hole of that many
bytes, so loaded arrays are writable, as with ``np.savez``. A SHORT_BINBYTES + POP pair (push a
bytes object, drop it again) in front of each BYTEARRAY8 makes every leaf start 64-byte aligned:
into unaligned float32 views numpy's ufuncs run their unaligned loops, about 2x slower.

Everything is written to a hidden temporary beside ``path`` (:class:`pose3d.io.atomic.Replacement`),
which ``finalize`` renames onto ``path``, so an interrupted run never leaves a plausible file there.
"""
from __future__ import annotations

import errno
import io
import math
import mmap
import operator
import os
import pickle
import pickletools
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.io.atomic import Replacement

__all__ = ["ArraySpec", "Slot", "InplaceNpz"]

ALIGN = 64
# CPython's zipfile switches to ZIP64 above this too: some readers take 32-bit fields as signed.
ZIP64_LIMIT = (1 << 31) - 1
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1  # 1980-01-01 00:00: equal content gives equal bytes
_UNIX_FILE_0644 = 0o100644 << 16
_CRC_CHUNK = 8 << 20
# Faulting a fresh shared mapping in page by page costs ~2-3x the copy itself; pre-populating it
# writable in one call does not (Linux >= 5.14; older kernels refuse it and we fall back).
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23) if sys.platform == "linux" else None


def _check_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    return dims


def _check_dtype(dtype: Any) -> str:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"not a numpy dtype: {dtype!r}") from None
    # Object arrays have no bytes to write in place; big-endian or structured leaves are not
    # worth the cases they would add.
    if dt.kind not in "biufc" or dt.str[0] not in "<|" or dt.fields is not None or dt.subdtype is not None:
        raise ValueError(
            f"unsupported leaf dtype {dt!r}: only little-endian bool/int/uint/float/complex "
            "arrays can be written in place"
        )
    return dt.str


@dataclass(frozen=True)
class ArraySpec:
    """A C-contiguous array leaf whose bytes will be written later, through its :class:`Slot`."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _check_shape(self.shape))
        object.__setattr__(self, "dtype", _check_dtype(self.dtype))

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Slot:
    """Where one leaf's bytes live in the partial file; small and picklable, to send to workers.

    Writes through either method land in the page cache at once, so they are visible to every
    process (and to ``finalize``) without a flush; durability is the caller's business.
    """

    path: str
    offset: int
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize

    def open(self, mode: str = "r+") -> np.ndarray:
        """An array mapped onto exactly this leaf's bytes, to compute into (``out=``) directly.

        ``mode`` is as for ``np.memmap``: ``"r"``, ``"r+"`` or ``"c"`` (copy-on-write); the
        creating modes would truncate the shared file and are refused. The array is a plain
        ndarray over an ``mmap`` that lives as long as the array does.
        """
        access = {"r": mmap.ACCESS_READ, "r+": mmap.ACCESS_WRITE, "c": mmap.ACCESS_COPY}.get(mode)
        if access is None:
            raise ValueError(f"mode must be 'r', 'r+' or 'c', got {mode!r}")
        dtype = np.dtype(self.dtype)
        if self.nbytes == 0:  # mmap cannot map 0 bytes, and there is nothing to write
            empty = np.empty(self.shape, dtype)
            empty.flags.writeable = mode != "r"
            return empty
        start = self.offset - self.offset % mmap.ALLOCATIONGRANULARITY
        with open(self.path, "r+b" if mode == "r+" else "rb") as f:
            mm = mmap.mmap(f.fileno(), self.offset + self.nbytes - start, access=access, offset=start)
        if mode == "r+" and _MADV_POPULATE_WRITE is not None:
            try:
                mm.madvise(_MADV_POPULATE_WRITE)
            except OSError:
                pass
        return np.ndarray(self.shape, dtype, buffer=mm, offset=self.offset - start)

    def write(self, data: np.ndarray) -> None:
        """Copy a finished array into place with ``pwrite``.

        Cheaper than ``np.copyto(slot.open(), data)`` (no page faults), but only for data of
        exactly this shape and dtype, already C-contiguous: anything else would need a hidden
        converted copy, so it raises instead; ``np.copyto(slot.open(), data)`` handles it.
        """
        if not isinstance(data, np.ndarray):
            raise ValueError(f"expected an ndarray, got {type(data).__name__}")
        if data.shape != self.shape or data.dtype != np.dtype(self.dtype):
            raise ValueError(
                f"slot holds {self.shape} {np.dtype(self.dtype)}, got {data.shape} {data.dtype}"
            )
        if not data.flags.c_contiguous:
            raise ValueError(
                "non-contiguous data: write it with np.copyto(slot.open(), data) instead"
            )
        if data.size == 0:
            return
        raw = memoryview(data.reshape(-1).view(np.uint8))
        fd = os.open(self.path, os.O_WRONLY)
        try:
            done = 0
            while done < len(raw):  # Linux writes at most ~2 GiB per call
                done += os.pwrite(fd, raw[done:], self.offset + done)
        finally:
            os.close(fd)


def _map_specs(tree: Any, fn) -> Any:
    """``tree`` rebuilt with ``fn(spec)`` for each ArraySpec, in pickling order.

    Containers are rebuilt (no sharing survives) and strings interned, so the pickle stream,
    which memoizes by identity, depends only on the tree's values, not on how it was built.
    """
    kind = type(tree)
    if isinstance(tree, ArraySpec):
        return fn(tree)
    if kind is dict:
        return {
            (sys.intern(k) if type(k) is str else k): _map_specs(v, fn) for k, v in tree.items()
        }
    if kind is list:
        return [_map_specs(v, fn) for v in tree]
    if kind is tuple:
        return tuple(_map_specs(v, fn) for v in tree)
    if kind is str:
        return sys.intern(tree)
    return tree


class _SpecGuardPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> None:
        # An ArraySpec the tree walk did not reach (inside a set, a namedtuple, an object...)
        # would otherwise be pickled as itself and load as an ArraySpec instead of an array.
        if isinstance(obj, ArraySpec):
            raise ValueError(
                "ArraySpec leaves must sit in plain dicts, lists and tuples; found one elsewhere"
            )
        return None


def _out_of_band_pickle(tree: Any) -> tuple[bytes, list[ArraySpec], list[int]]:
    """The 0-d object array around ``tree``, pickled with each ArraySpec's data out-of-band.

    Returns the stream, the specs in tree order, and for each NEXT_BUFFER in the stream the
    index of its spec.
    """
    specs: list[ArraySpec] = []
    holders: list[np.ndarray] = []

    def placeholder(spec: ArraySpec) -> np.ndarray:
        specs.append(spec)
        holders.append(np.empty(spec.shape, np.dtype(spec.dtype)))  # never touched: no memory
        return holders[-1]

    wrapped = np.empty((), dtype=object)
    wrapped[()] = _map_specs(tree, placeholder)
    index = {id(h): i for i, h in enumerate(holders)}
    order: list[int] = []

    def on_buffer(buf: pickle.PickleBuffer) -> bool:
        i = index.get(id(buf.raw().obj))
        if i is None:
            return True  # a real array given in the tree: its data stays in-band
        order.append(i)
        return False

    out = io.BytesIO()
    _SpecGuardPickler(out, protocol=5, buffer_callback=on_buffer).dump(wrapped)
    if sorted(order) != list(range(len(specs))):  # numpy changed how arrays pickle
        raise RuntimeError("pickling did not put every ArraySpec's data out-of-band exactly once")
    return out.getvalue(), specs, order


def _in_band(stream: bytes, order: list[int], specs: list[ArraySpec], base: int):
    """Rewrite an out-of-band stream in-band, with a hole per buffer, to start at file offset ``base``.

    Returns ``(pieces, offsets)``: bytes to write and hole sizes (ints), in file order, and the
    file offset of each spec's data.
    """
    ops = list(pickletools.genops(stream))
    ends = [pos for _, _, pos in ops[1:]] + [len(stream)]
    pieces: list[bytes | int] = []
    offsets = [0] * len(specs)
    chunk = bytearray()
    pos = base  # file offset of chunk[0]
    buffers = iter(order)
    for (op, _, start), end in zip(ops, ends):
        if op.name in ("FRAME", "READONLY_BUFFER"):
            continue  # READONLY_BUFFER only ever follows the NEXT_BUFFERs replaced below
        if op.name != "NEXT_BUFFER":
            chunk += stream[start:end]
            continue
        i = next(buffers)
        nbytes = specs[i].nbytes
        if nbytes:
            pad = -(pos + len(chunk) + 9) % ALIGN  # 9: BYTEARRAY8 opcode + 8-byte length
            if pad:
                pad += ALIGN if pad < 3 else 0
                chunk += pickle.SHORT_BINBYTES + bytes([pad - 3]) + bytes(pad - 3) + pickle.POP
        chunk += pickle.BYTEARRAY8 + struct.pack("<Q", nbytes)
        offsets[i] = pos + len(chunk)
        pieces += [bytes(chunk), nbytes]
        pos += len(chunk) + nbytes
        chunk = bytearray()
    pieces.append(bytes(chunk))
    return pieces, offsets


@dataclass(frozen=True)
class _Entry:
    name: bytes
    flags: int
    header_offset: int
    data_start: int
    size: int
    zip64_local: bool
    leaves: tuple[tuple[int, int], ...]  # (offset, nbytes) of each leaf, for the unwritten check


def _local_header(name: bytes, flags: int, size: int, zip64: bool) -> bytes:
    extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
    size32 = 0xFFFFFFFF if zip64 else size
    return struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, 0, _DOS_TIME, _DOS_DATE,
        0, size32, size32, len(name), len(extra),
    ) + name + extra  # CRC-32 (the 0 above) is patched in by finalize


def _central_header(e: _Entry) -> bytes:
    big = [e.size, e.size] if e.zip64_local else []
    if e.header_offset > ZIP64_LIMIT:
        big.append(e.header_offset)
    extra = struct.pack(f"<HH{len(big)}Q", 1, 8 * len(big), *big) if big else b""
    version = 45 if big else 20
    size32 = 0xFFFFFFFF if e.zip64_local else e.size
    offset32 = 0xFFFFFFFF if e.header_offset > ZIP64_LIMIT else e.header_offset
    return struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | version, version, e.flags, 0, _DOS_TIME,
        _DOS_DATE, 0, size32, size32, len(e.name), len(extra), 0, 0, 0, _UNIX_FILE_0644, offset32,
    ) + e.name + extra


def _end_records(count: int, cd_offset: int, cd_size: int) -> bytes:
    out = b""
    if count >= 0xFFFF or cd_offset > ZIP64_LIMIT or cd_size > ZIP64_LIMIT:
        out += struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_offset
        )
        out += struct.pack("<IIQI", 0x07064B50, 0, cd_offset + cd_size, 1)
        count = min(count, 0xFFFF)
        cd_size = cd_size if cd_size <= ZIP64_LIMIT else 0xFFFFFFFF
        cd_offset = cd_offset if cd_offset <= ZIP64_LIMIT else 0xFFFFFFFF
    return out + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def _npy_object_header() -> bytes:
    out = io.BytesIO()
    wrapped = np.empty((), dtype=object)
    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(wrapped))
    return out.getvalue()


def _member_layout(key: str, tree: Any, header_offset: int):
    """Everything about one member but its data: (entry, [(offset, bytes)], specs, leaf offsets)."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"member names must be non-empty strings, got {key!r}")
    name = f"{key}.npy".encode()
    flags = 0 if name.isascii() else 0x800  # bit 11: the name is UTF-8
    stream, specs, order = _out_of_band_pickle(tree)
    npy_header = _npy_object_header()
    for zip64 in (False, True):
        data_start = header_offset + 30 + len(name) + (20 if zip64 else 0)
        pieces, offsets = _in_band(stream, order, specs, data_start + len(npy_header))
        size = len(npy_header) + sum(p if isinstance(p, int) else len(p) for p in pieces)
        if zip64 or size <= ZIP64_LIMIT:
            break
    writes = [(header_offset, _local_header(name, flags, size, zip64) + npy_header)]
    pos = data_start + len(npy_header)
    for piece in pieces:
        if isinstance(piece, int):
            pos += piece  # a hole: seek past it, never write zeros
        else:
            writes.append((pos, piece))
            pos += len(piece)
    leaves = tuple((offsets[i], s.nbytes) for i, s in enumerate(specs))
    entry = _Entry(name, flags, header_offset, data_start, size, zip64, leaves)
    return entry, writes, specs, offsets


def _crc32_file(fd: int, start: int, stop: int, buf: memoryview) -> int:
    crc = 0
    pos = start
    while pos < stop:
        n = os.preadv(fd, [buf[: min(len(buf), stop - pos)]], pos)
        if n <= 0:
            raise ValueError(f"file ends at {pos}, inside a member that should run to {stop}")
        crc = zlib.crc32(buf[:n], crc)
        pos += n
    return crc


def _unwritten(fd: int, leaves: tuple[tuple[int, int], ...], block: int) -> list[int]:
    """Indices of leaves with a hole left in them (never fully written), where the fs can tell."""
    bad = []
    for i, (offset, nbytes) in enumerate(leaves):
        first = -(-offset // block) * block  # only whole blocks inside the leaf can still be holes
        last = (offset + nbytes) // block * block
        if first < last:
            try:
                if os.lseek(fd, first, os.SEEK_HOLE) < last:
                    bad.append(i)
            except OSError as err:
                if err.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                    return []  # no hole support: cannot tell
                raise
    return bad


def _slot(path: str, spec: ArraySpec, offset: int) -> Slot:
    return Slot(path, offset, spec.shape, spec.dtype)


class InplaceNpz:
    """An npz written before its data: ``plan`` it, fill ``slots`` from any process, ``finalize``."""

    def __init__(self, replacement: Replacement, size: int, entries: list[_Entry],
                 cd_offsets: list[int], slots: dict[str, Any]) -> None:
        self._replacement = replacement
        self.path = replacement.path  #: where finalize puts the file
        self.partial_path = replacement.tmp  #: where it is until then; every Slot points here
        self.slots = slots  #: {member: its tree with a Slot for each ArraySpec}
        self._size = size
        self._entries = entries
        self._cd_offsets = cd_offsets  # of each entry's central directory header
        self._finalized = False

    @classmethod
    def plan(cls, path: str | os.PathLike, members: dict[str, Any]) -> InplaceNpz:
        """Write everything but the leaf data of ``np.savez(path, **members)`` to a partial file.

        Each member's value is any picklable nesting of dicts/lists/tuples/ints/strs whose array
        leaves are :class:`ArraySpec` (real ndarrays are stored with their data, as ``np.savez``
        would); each becomes a 0-d object array, as VideoPose3D stores its dicts. Leaf regions
        are left as holes (a sparse file). ``slots[name]`` mirrors ``members[name]`` with a
        :class:`Slot` for each ArraySpec occurrence.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        replacement = Replacement(path)
        partial = replacement.tmp
        entries, slots = [], {}
        try:
            with open(partial, "xb") as f:
                pos = 0
                for key, tree in members.items():
                    entry, writes, specs, offsets = _member_layout(key, tree, pos)
                    for offset, data in writes:
                        f.seek(offset)
                        f.write(data)
                    leaf = iter(zip(specs, offsets))
                    slots[key] = _map_specs(tree, lambda _: _slot(str(partial), *next(leaf)))
                    entries.append(entry)
                    pos = entry.data_start + entry.size
                headers = [_central_header(e) for e in entries]
                cd_offsets = [pos + sum(map(len, headers[:i])) for i in range(len(headers))]
                directory = b"".join(headers)
                f.seek(pos)
                f.write(directory + _end_records(len(entries), pos, len(directory)))
                size = f.tell()
        except BaseException:
            replacement.discard()
            raise
        return cls(replacement, size, entries, cd_offsets, slots)

    def finalize(self, check_written: bool = True) -> None:
        """Patch each member's CRC-32 (read back from the page cache) and rename onto ``path``.

        Call it once, after every slot was written by whatever process; the Slots' partial file
        is gone afterwards. With ``check_written`` a leaf still holding a hole (never fully
        written) raises ValueError instead of being stored as zeros; turn it off only on
        filesystems that turn zero blocks into holes (e.g. ZFS with compression). The two
        VideoPose3D files can be finalized in two threads: reads and CRCs release the GIL.
        """
        if self._finalized:
            raise RuntimeError(f"{self.path} was already finalized")
        with open(self.partial_path, "r+b") as f:
            fd = f.fileno()
            actual = os.fstat(fd).st_size
            if actual != self._size:
                raise ValueError(
                    f"{self.partial_path} is {actual} bytes, planned {self._size}: "
                    "something truncated or extended it"
                )
            if check_written and hasattr(os, "SEEK_HOLE"):
                block = os.fstat(fd).st_blksize
                for e in self._entries:
                    bad = _unwritten(fd, e.leaves, block)
                    if bad:
                        raise ValueError(
                            f"member {e.name.decode()}: leaves {bad[:10]} (in tree order) were "
                            f"never fully written ({len(bad)} of {len(e.leaves)})"
                        )
            buf = memoryview(bytearray(_CRC_CHUNK))
            for e, cd_offset in zip(self._entries, self._cd_offsets):
                crc = struct.pack("<I", _crc32_file(fd, e.data_start, e.data_start + e.size, buf))
                os.pwrite(fd, crc, e.header_offset + 14)  # CRC-32 field of the local header
                os.pwrite(fd, crc, cd_offset + 16)  # and of the central directory header
        self._replacement.commit()
        self._finalized = True
