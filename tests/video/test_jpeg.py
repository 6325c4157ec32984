"""JPEG encoding and decoding: ``qscale`` as ``ffmpeg -qscale:v``, same bytes for the same image, safe after a fork."""
from __future__ import annotations

import os

import numpy as np
import pytest

from pose3d.video.jpeg import JpegEncoder, decode_jpeg


def test_qscale_sets_size_and_error():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    img = np.clip(np.stack([xx, yy, xx + yy], -1) + rng.normal(0, 20, (128, 128, 3)), 0, 255).astype(np.uint8)
    sizes, errors = [], []
    for q in (2, 3, 12, 31):
        data = JpegEncoder(128, 128, q).encode(img)
        sizes.append(len(data))
        errors.append(np.abs(decode_jpeg(data).astype(float) - img).mean())
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    assert errors == sorted(errors)


def test_same_image_same_bytes():
    img = np.full((64, 64, 3), 90, np.uint8)
    assert JpegEncoder(64, 64, 3).encode(img) == JpegEncoder(64, 64, 3).encode(img)


def test_qscale_out_of_range_is_refused():
    with pytest.raises(ValueError, match="within 1..31"):
        JpegEncoder(64, 64, 0)


def _decode_in_child(data: bytes, conn) -> None:
    try:
        conn.send(decode_jpeg(data).shape)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the test with it
        conn.send(repr(exc))
    # leave at once: exit handlers other tests' libraries left in this process (Prefect's) are not under test
    os._exit(0)


def test_a_forked_child_decodes_after_its_parent_did():
    """A process pool's worker forked after the parent decoded (the exports, data loaders) must not hang."""
    import multiprocessing

    data = JpegEncoder(64, 64, 3).encode(np.full((64, 64, 3), 90, np.uint8))
    assert decode_jpeg(data).shape == (64, 64, 3)  # the parent's decoder now exists
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_decode_in_child, args=(data, child))
    proc.start()
    proc.join(timeout=30)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the forked child hung decoding a JPEG")
    assert parent.recv() == (64, 64, 3) and proc.exitcode == 0
