"""Person boxes from the official ground_truth_bb masks and from 2D joints; the square crop."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from pose3d.video.boxes import MaskFileError, joint_boxes, mask_box, read_mask_boxes, square_crop


def test_mask_boxes_in_the_official_layout(tmp_path, media):
    # a tall, non-square frame: reading the masks the wrong way round cannot pass
    w, h = 300, 200
    boxes = [(10, 20, 60, 150), (200, 5, 290, 40), (0, 0, 300, 200)]
    path = media.write_masks(tmp_path / "Directions 1.54138969.mat", boxes, w, h)
    with h5py.File(path) as f:  # the layout itself: (N, 1) references to (W, H) masks
        assert f["Masks"].shape == (3, 1) and f[f["Masks"][0, 0]].shape == (w, h)
    assert path.read_bytes().startswith(b"MATLAB 7.3 MAT-file")
    got, found, n = read_mask_boxes(path, np.array([0, 1, 2]), w, h)
    assert n == 3 and found.all()
    # columns c0..c1-1 and rows r0..r1-1 are set: the box spans their pixel edges
    np.testing.assert_array_equal(got, [[9.5, 19.5, 59.5, 149.5], [199.5, 4.5, 289.5, 39.5], [-0.5, -0.5, 299.5, 199.5]])


def test_frames_beyond_the_masks_and_empty_masks_are_flagged(tmp_path, media):
    path = media.write_masks(tmp_path / "a.mat", [(10, 20, 60, 150), (5, 5, 5, 5)], 100, 200)  # second mask empty
    got, found, n = read_mask_boxes(path, np.array([0, 1, 7]), 100, 200)
    assert n == 2 and found.tolist() == [True, False, False]
    assert np.isnan(got[1:]).all()


def test_bad_mask_files_name_the_file_and_the_problem(tmp_path, media):
    with pytest.raises(MaskFileError, match="absent"):
        read_mask_boxes(tmp_path / "none.mat", np.array([0]), 100, 100)
    path = media.write_masks(tmp_path / "b.mat", [(1, 2, 3, 4)], 100, 200)
    with pytest.raises(MaskFileError, match=r"b.mat: mask 0 has shape \(100, 200\)"):
        read_mask_boxes(path, np.array([0]), 200, 100)  # a video of another size (or orientation)
    other = tmp_path / "c.mat"
    with h5py.File(other, "w") as f:
        f["Boxes"] = np.zeros((3, 4))
    with pytest.raises(MaskFileError, match="no 'Masks' dataset"):
        read_mask_boxes(other, np.array([0]), 100, 100)
    broken = tmp_path / "d.mat"
    broken.write_bytes(path.read_bytes()[:700])
    with pytest.raises(MaskFileError, match="d.mat: not a readable MATLAB v7.3 mask file"):
        read_mask_boxes(broken, np.array([0]), 100, 200)


def test_joint_boxes_and_mask_box():
    uv = np.array([[[10.0, 50.0], [30.0, 20.0], [25.0, 80.0]]])
    np.testing.assert_array_equal(joint_boxes(uv), [[10, 20, 30, 80]])
    m = np.zeros((40, 30), dtype=np.uint8)  # indexed [x, y]
    m[5:9, 10:20] = 1
    np.testing.assert_array_equal(mask_box(m), [4.5, 9.5, 8.5, 19.5])
    assert mask_box(np.zeros((4, 4))) is None


@pytest.mark.parametrize("box", [(100.0, 50.0, 180.0, 350.0), (-40.0, 10.0, 30.5, 20.25), (5.0, 5.0, 6.0, 6.0)])
def test_square_crop_is_centred_and_covers_the_enlarged_box(box):
    left, top, side = square_crop(np.array(box), 0.2)
    w, h = box[2] - box[0], box[3] - box[1]
    assert side >= max(16, max(w, h) * 1.2)
    assert side <= max(16, max(w, h) * 1.2 + 1)
    centre = np.array([left + (side - 1) / 2, top + (side - 1) / 2])
    assert np.abs(centre - [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]).max() <= 0.5
    assert left <= box[0] and top <= box[1] and left + side - 1 >= box[2] and top + side - 1 >= box[3]
