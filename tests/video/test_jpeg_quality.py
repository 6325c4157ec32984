"""The JPEG encoder honours ``qscale`` as ``ffmpeg -qscale:v`` does: a higher value, coarser and smaller."""
from __future__ import annotations

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
